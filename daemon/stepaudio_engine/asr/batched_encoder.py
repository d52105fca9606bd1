"""Moved to tokenizer/sanm_batched.py (shared with vq02); this name stays so existing imports keep working."""
from stepaudio_engine.tokenizer.sanm_batched import encode_calls, encode_uniform_calls

__all__ = ["encode_calls", "encode_uniform_calls"]
