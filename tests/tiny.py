"""Tiny real models built in the tests (no downloads): a byte-level BPE tokenizer and a random Llama."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CORPUS = [
    "The cat sat on the mat. The dog ran in the park. A bird sang in the tree.",
    "Question: What is the capital of France? Answer: Paris is the capital of France.",
    "Two plus two is four. The following are multiple choice questions (with answers).",
    "A. yes B. no C. maybe D. never. The answer is A. True or false? positive negative",
]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (any text round-trips) trained on a few sentences, with BOS/EOS tokens."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   pad_token="</s>")


def tiny_llama(vocab_size: int, *, seed: int = 0) -> LlamaForCausalLM:
    """A random 2-layer Llama with hidden size 32 over ``vocab_size`` tokens."""
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                         initializer_range=0.2, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    return LlamaForCausalLM(config).eval()


def save_tiny_model(folder: Path, *, seed: int = 0) -> Path:
    """Save a tiny Llama and its tokenizer as a Hugging Face folder (safetensors) and return the folder."""
    tokenizer = tiny_tokenizer()
    tiny_llama(len(tokenizer), seed=seed).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_random_lora(base_folder: Path, target: Path, *, base_spec: str, seed: int = 0, rank: int = 4,
                     alpha: int = 8, modules: tuple[str, ...] = ("q_proj", "v_proj")) -> Path:
    """Save a LoRA adapter with random (not zero-initialised, so not a no-op) weights on the model in
    ``base_folder``, with ``base_spec`` written as its ``base_model_name_or_path``; return ``target``."""
    import json

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.float32)
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(modules), init_lora_weights=False,
                        task_type="CAUSAL_LM")
    get_peft_model(base, config).save_pretrained(target)
    config_file = target / "adapter_config.json"
    adapter_config = json.loads(config_file.read_text(encoding="utf-8"))
    adapter_config["base_model_name_or_path"] = base_spec
    config_file.write_text(json.dumps(adapter_config), encoding="utf-8")
    return target
