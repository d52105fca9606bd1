"""Tiny model writer: a complete model folder in the released layout with tiny random weights.

Each part lives in its own module (tokenizer.py, llm.py, vocoder.py); write_tiny_models() composes them.
Output of a tiny model is noise: it exists to exercise the real loading and pipeline code.
"""
