"""The tuner (planned, not yet implemented): data preflight, SFT and DPO with LoRA/DoRA/QLoRA on TRL, curve
verdicts, and a model registry whose promotion step passes only through the gate. See the project's open issues."""
