"""Short, safe wording for the errors of `torch.load(weights_only=True)` on a damaged or hostile file, and
read_state_dict, which the loaders use to read a torch checkpoint (`models verify` reads them memory-mapped in
verify.py; both always with weights_only=True).

torch's own message runs to a dozen lines and advises re-running with `weights_only=False` (or allow-listing
the offending global), which would execute code from the model folder. A user must never be told that
(DESIGN.md §4: nothing from a model folder runs), so the engine shows only what is wrong with the file.
"""
from __future__ import annotations

_REFUSED = "Weights only load failed"
_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation")
_MAX_CHARS = 200


def describe_torch_load_error(exc: BaseException) -> str:
    """One line saying why the file could not be read, without torch's advice."""
    text = str(exc)
    if text.startswith(_REFUSED):
        # torch's paragraphs: advice, then what it refused (e.g. "Trying to load unsupported GLOBAL
        # posix.system …" or "WeightsUnpickler error: Unsupported operand 103"), then a docs link
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        facts = [line for line in lines if not line.startswith(_BOILERPLATE)]
        detail = facts[0].removeprefix("WeightsUnpickler error:").strip() if facts else ""
        detail = detail.split(". ", 1)[0].rstrip(".")  # the first sentence names the problem
        return f"it holds more than plain tensors ({detail[:_MAX_CHARS]})" if detail else \
            "it holds more than plain tensors"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    first = first.split(". This is an internal", 1)[0]  # miniz adds a paragraph of guesses
    return first[:_MAX_CHARS]


def read_state_dict(path, hint: str, mmap: bool = False) -> dict:
    """The tensors of a torch checkpoint (torch.load with weights_only=True: never runs code from the
    file), unwrapped from a {"state_dict"/"model": …} wrapper and without DataParallel "module." prefixes.
    `mmap` leaves tensors on disk until used (a legacy non-zip file falls back to a plain load).
    Raises MODEL_CORRUPT naming the file."""
    import torch

    from stepaudio_engine.api import EngineError, Reason

    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"cannot load {path}: {describe_torch_load_error(exc)}",
                          hint) from exc
    for key in ("state_dict", "model"):   # tolerate checkpoints that wrap the state dict
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: not a state dict ({type(obj).__name__})", hint)
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}
