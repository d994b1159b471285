"""evalkit's own lm-eval model backends, registered with lm-eval's model registry on import.

``evalkit-prefix`` (:class:`PrefixSharingLM`): lm-eval's ``hf`` backend with each distinct context of a
loglikelihood call encoded once and its KV cache reused for all of its continuations.
"""

from evalkit.backends.prefix_lm import PrefixSharingLM

__all__ = ["PrefixSharingLM"]
