"""The tuner: data preflight (``evalkit data check``), SFT and DPO with LoRA/DoRA/QLoRA on TRL and PEFT
(``evalkit tune``), training-curve verdicts, and a model registry whose promotion passes only through the gate."""
