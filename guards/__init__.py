"""Safety scorers (planned, not yet implemented): the ``Guard`` protocol and scorers for Llama Guard 3 and 2,
ShieldGemma, WildGuard and an embedded default, plus the safety suite. See the project's open issues."""
