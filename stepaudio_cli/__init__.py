"""stepaudio_cli: the Typer command-line interface. Never imports torch, numpy or the engine."""
