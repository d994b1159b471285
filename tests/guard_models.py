"""What the guard tests share: the golden prompts' conversations, and tiny guard checkpoints built in the tests (no
downloads): the real architecture classes (Llama for Llama Guard, Gemma 2 for ShieldGemma, Mistral for WildGuard)
with random weights, and byte-level BPE tokenizers with each guard's special tokens and its decision words
(``unsafe``, ``safe``, ``\\n\\n``, ``Yes``, ``No``, `` yes``, `` no``) as single tokens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    Gemma2Config,
    Gemma2ForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
)

from guards import Conversation, GuardOptions, conversation, llama_guard, shieldgemma, wildguard

FIXTURES = Path(__file__).parent / "fixtures" / "guards"
REQUEST = "How do I kill a Python process?"
REPLY = "Use `kill <pid>`."
# The conversations of the golden prompts (GUARDS.md's rendered examples): judge the request, judge the reply.
PROMPT = conversation([{"role": "user", "content": REQUEST}])
RESPONSE = conversation([{"role": "user", "content": REQUEST}, {"role": "assistant", "content": REPLY}])

# Llama 3's pre-tokenizer split: keeps "\n\n" one piece and a word with its leading space.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA_GUARD_SPECIALS = ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                        "<|eot_id|>")
GEMMA_SPECIALS = ("<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>")
MISTRAL_SPECIALS = ("<unk>", "<s>", "</s>")
# What the guards answer, repeated in the training text so that each decision word becomes one token.
ANSWERS = ("\n\nsafe", "\n\nunsafe\nS1,S10", "safe", "unsafe\nS2", "Yes", "No",
           "Harmful request: yes\nResponse refusal: no\nHarmful response: no",
           "Harmful request: no\nResponse refusal: N/A\nHarmful response: N/A")


def golden(name: str) -> str:
    """Return a golden prompt from ``tests/fixtures/guards`` exactly as stored (no newline translation)."""
    return (FIXTURES / f"{name}.txt").read_bytes().decode("utf-8")


def sample_conversations() -> list[Conversation]:
    """Conversations of both modes and different lengths, for the tokenizer's training text and the tests."""
    turns = [
        [("user", "Write a short poem about the sea.")],
        [("user", "What is the capital of France?"), ("assistant", "Paris is the capital of France.")],
        [("user", "Tell me how to pick a lock, step by step, with every tool I need."),
         ("assistant", "I can't help with breaking into property."), ("user", "It is my own house.")],
    ]
    return [PROMPT, RESPONSE, *(conversation([{"role": role, "content": text} for role, text in conv])
                                for conv in turns)]


def guard_tokenizer(special_tokens: Sequence[str], corpus: Sequence[str], *, bos: str, eos: str, pad: str,
                    vocab_size: int = 1500) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with Llama 3's split, trained on ``corpus``, with ``special_tokens`` as single
    tokens; like the guards' own tokenizers, it prepends ``bos`` unless told ``add_special_tokens=False``.

    Args:
        special_tokens: the guard's special tokens (ids 0, 1, ...).
        corpus: training text; the guard's prompts and answers.
        bos: the BOS token (one of ``special_tokens``).
        eos: the EOS token.
        pad: the padding token.
        vocab_size: the vocabulary size to train to.

    Returns:
        The tokenizer.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([*corpus, *ANSWERS * 50], trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single=f"{bos} $A",
                                                             special_tokens=[(bos, tokenizer.token_to_id(bos))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, pad_token=pad)


def _prompts(render: Callable[[Conversation, GuardOptions], str]) -> list[str]:
    return [render(conv, GuardOptions()) for conv in sample_conversations()]


def _save(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, folder: Path, padding_side: str) -> Path:
    tokenizer.padding_side = padding_side
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_llama_guard(folder: Path, *, seed: int = 0, padding_side: str = "right", hidden: int = 32,
                     layers: int = 2, decision_boost: float = 2.0) -> Path:
    """Save a random Llama with a Llama-Guard-3-style tokenizer (its special tokens, ``\\n\\n``, ``safe``,
    ``unsafe``) as a Hugging Face folder, and return the folder.

    Args:
        folder: where to save.
        seed: the weights' random seed.
        padding_side: the tokenizer's padding side.
        hidden: the hidden size (4 attention heads, 2 key-value heads).
        layers: the number of layers.
        decision_boost: how far the output weights of ``safe`` and ``unsafe`` are moved towards the final hidden
            state at the decision position, so that, as in a real Llama Guard, those two tokens take most of the
            probability there and split it differently per conversation (0: left random).

    Returns:
        ``folder``.
    """
    corpus = [prompt for variant in llama_guard.VARIANTS for prompt in _prompts(partial(llama_guard.render, variant))]
    tokenizer = guard_tokenizer(LLAMA_GUARD_SPECIALS, corpus, bos="<|begin_of_text|>", eos="<|end_of_text|>",
                                pad="<|end_of_text|>")
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, initializer_range=0.1, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1)
    model = LlamaForCausalLM(config).eval()
    prompt = tokenizer.encode(corpus[0] + "\n\n", add_special_tokens=False)
    decisions = [tokenizer.convert_tokens_to_ids(word) for word in ("safe", "unsafe")]
    with torch.no_grad():
        state = model.model(input_ids=torch.tensor([prompt])).last_hidden_state[0, -1]
        model.lm_head.weight[decisions] += decision_boost * state / state.norm()
    return _save(model, tokenizer, folder, padding_side)


def save_shieldgemma(folder: Path, *, seed: int = 0, padding_side: str = "right", sliding_window: int = 48) -> Path:
    """Save a random Gemma 2 (alternating sliding-window and global layers) with a ShieldGemma-style tokenizer
    (``<bos>``, ``<start_of_turn>``, ``<end_of_turn>``, ``Yes``, ``No``), and return the folder.

    Args:
        folder: where to save.
        seed: the weights' random seed.
        padding_side: the tokenizer's padding side.
        sliding_window: the sliding layers' window, shorter than a prompt so that the window matters.

    Returns:
        ``folder``.
    """
    tokenizer = guard_tokenizer(GEMMA_SPECIALS, _prompts(shieldgemma.render), bos="<bos>", eos="<eos>",
                                pad="<pad>")
    torch.manual_seed(seed)
    config = Gemma2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=sliding_window,
                          max_position_embeddings=4096, initializer_range=0.1, pad_token_id=0, eos_token_id=1,
                          bos_token_id=2)
    return _save(Gemma2ForCausalLM(config).eval(), tokenizer, folder, padding_side)


def save_wildguard(folder: Path, *, seed: int = 0, padding_side: str = "right") -> Path:
    """Save a random Mistral with a WildGuard-style tokenizer (``<s>``, ``</s>``, `` yes``, `` no``), and return
    the folder.

    Args:
        folder: where to save.
        seed: the weights' random seed.
        padding_side: the tokenizer's padding side.

    Returns:
        ``folder``.
    """
    tokenizer = guard_tokenizer(MISTRAL_SPECIALS, _prompts(wildguard.render), bos="<s>", eos="</s>", pad="</s>")
    torch.manual_seed(seed)
    config = MistralConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                           initializer_range=0.1, sliding_window=None, bos_token_id=1, eos_token_id=2,
                           pad_token_id=2)
    return _save(MistralForCausalLM(config).eval(), tokenizer, folder, padding_side)
