"""Facts about jobs and models that the CLI, the daemon and the HTTP server share, stated once (stdlib only,
cheap to import).

The engine must not import the protocol package, so it keeps its own copies (stepaudio_engine/llm/variants.py,
stepaudio_engine/pipeline.py); tests/test_single_source.py keeps them equal.
"""
from __future__ import annotations

VARIANTS = ("base", "bnb", "awq")   # LLM variants (docs/engine/models.md#variants)
MAX_CANDIDATES = 8                  # --candidates 1..8: each candidate is a full generation
MAX_ITERATIONS = 10                 # edit --iterations 1..10: each pass edits the last output
# bits per LLM decoder weight on the CPU with dtype auto: onnxruntime MatMulNBits, int8 activations, 8-bit lm_head
# (docs/engine/llm.md#cpu-fast-path); dtype fp32 keeps the exact torch path
CPU_LLM_BITS = {"base": 8, "bnb": 4, "awq": 4}


def checks_needed(check: bool, candidates: int) -> bool:
    """The candidates rule: several candidates are compared by their scores, so more than one implies --check."""
    return check or candidates > 1
