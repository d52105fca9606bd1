"""`python -m stepaudio_engine.verify`: check installed model files against the loading contract.

Run by `stepaudio models verify` in a subprocess (the CLI must not import torch). Every expected file is
checked for presence and readability, and its tensor names and shapes are compared with what the engine's
loaders require — reading headers only wherever the format allows:

- LLM weights: safetensors headers (llm/checkpoint.open_checkpoint) against llm/contract (base),
  quant_bnb.check_prequantized (bnb) or the packed-int4 shapes of quant_awq (awq);
- vocoder flow.pt / hift.pt: torch.load(weights_only=True, mmap=True) against vocoder/contract;
- tokenizer model.pt: the same, against a SanmEncoder built on the meta device; codebook with mmap;
- ONNX graphs: onnx.load without external data, inputs/outputs checked.

No code from the model folder is executed (safetensors, weights_only pickles, a safe YAML loader).
Output: one line per file (`--json`: a JSON list of FileCheck dicts); exit status 1 if any check failed.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.llm.variants import VARIANTS

log = logging.getLogger(__name__)

TOKENIZER = "tokenizer"
PARTS = (TOKENIZER, *VARIANTS)
REDOWNLOAD = "download it again: stepaudio models pull {part}"
BNB_FIX = "re-create the bnb folder from the base weights (see README: Models)"


def _fix(part: str) -> str:
    return BNB_FIX if part == "bnb" else REDOWNLOAD.format(part=part)


@dataclass
class FileCheck:
    part: str          # tokenizer | base | bnb | awq
    file: str          # path of the file checked
    ok: bool
    message: str       # what was found ("ok: 291 tensors match" or what is wrong)
    fix: str = ""      # what to do about a failure

    def to_dict(self) -> dict:
        return asdict(self)


def _check(part: str, path: Path, fn: Callable[[Path], str]) -> FileCheck:
    """Run one file's check; EngineError and any reading error become a named failure."""
    fix = _fix(part)
    if not path.is_file():
        return FileCheck(part, str(path), False, "missing", fix)
    try:
        return FileCheck(part, str(path), True, fn(path))
    except EngineError as exc:
        # a missing package (UNSUPPORTED) has its own fix; for damaged files the engine's hints say
        # "download again" without the command, so give the command
        hint = exc.hint if exc.reason == Reason.UNSUPPORTED and exc.hint else fix
        return FileCheck(part, str(path), False, exc.message, hint)
    except Exception as exc:  # damaged files fail in format-specific ways
        first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else ""
        return FileCheck(part, str(path), False, f"unreadable ({type(exc).__name__}): {first}", fix)


# ---- formats ---------------------------------------------------------------------------------------------

def _torch_state(path: Path) -> dict:
    """A .pt state dict, memory-mapped (no data read) and without executing pickled code."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EngineError(Reason.MODEL_CORRUPT, f"{path.name} is not a state dict of tensors", "")
    return state


def _onnx_io(path: Path, min_inputs: int) -> str:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    outputs = [o.name for o in model.graph.output]
    if len(inputs) < min_inputs or not outputs:
        raise EngineError(Reason.MODEL_CORRUPT,
                          f"{path.name}: expected {min_inputs} input(s) and an output, found inputs {inputs}, "
                          f"outputs {outputs}", "")
    return f"ok: ONNX graph, inputs {inputs}, outputs {outputs}"


def _shapes_problems(expected: dict, state: dict) -> list[str]:
    from stepaudio_engine.vocoder.contract import compare_state

    return compare_state(expected, state)


# ---- tokenizer -------------------------------------------------------------------------------------------

def check_tokenizer(root: Path) -> list[FileCheck]:
    from stepaudio_engine.tokenizer.folders import (CODEBOOK_FILE, FUNASR_MODEL_ID, TOKENIZER_FOLDER,
                                                    VQ06_FILE)

    folder = root / TOKENIZER_FOLDER
    para = folder / FUNASR_MODEL_ID
    encoder_dims: dict[str, int] = {}

    def config(path: Path) -> str:
        from stepaudio_engine.tokenizer.vq02 import _frontend_options, _read_yaml

        _frontend_options(_read_yaml(path), path)
        return "ok: front end options read"

    def weights(path: Path) -> str:
        from stepaudio_engine.meta import build_meta
        from stepaudio_engine.tokenizer.sanm import SanmEncoder
        from stepaudio_engine.tokenizer.vq02 import _encoder_config, _read_yaml

        state = _torch_state(path)
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
        conf = _read_yaml(para / "config.yaml") if (para / "config.yaml").is_file() else {}
        cfg = _encoder_config(state, conf, path)
        expected = {k: tuple(v.shape) for k, v in build_meta(lambda: SanmEncoder(cfg)).state_dict().items()}
        enc = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
        problems = _shapes_problems(expected, enc)
        if problems:
            raise EngineError(Reason.MODEL_CORRUPT, f"encoder weights do not match: {'; '.join(problems)}", "")
        encoder_dims.update(input=cfg.input_size, output=cfg.output_size)
        return f"ok: {len(enc)} encoder tensors match (width {cfg.output_size}, {cfg.num_blocks} blocks)"

    def cmvn(path: Path) -> str:
        from stepaudio_engine.tokenizer.fbank import load_cmvn

        shift, _ = load_cmvn(path)
        if encoder_dims and shift.shape[0] != encoder_dims["input"]:
            raise EngineError(Reason.MODEL_CORRUPT, f"CMVN has {shift.shape[0]} dims, the encoder takes "
                                                    f"{encoder_dims['input']}", "")
        return f"ok: CMVN of {shift.shape[0]} dims"

    def codebook(path: Path) -> str:
        import numpy as np

        book = np.load(path, mmap_mode="r", allow_pickle=False)
        dim = encoder_dims.get("output")
        if book.ndim != 2 or (dim is not None and book.shape[1] != dim):
            raise EngineError(Reason.MODEL_CORRUPT,
                              f"codebook shape {tuple(book.shape)}, expected (K, {dim if dim else 'D'})", "")
        return f"ok: codebook {tuple(book.shape)} {book.dtype}"

    return [
        _check(TOKENIZER, para / "config.yaml", config),
        _check(TOKENIZER, para / "model.pt", weights),
        _check(TOKENIZER, para / "am.mvn", cmvn),
        _check(TOKENIZER, folder / CODEBOOK_FILE, codebook),
        _check(TOKENIZER, folder / VQ06_FILE, lambda p: _onnx_io(p, 2)),
    ]


# ---- LLM -------------------------------------------------------------------------------------------------

def _awq_expected(config, raw: dict, shapes: dict) -> dict:
    """The tensors an AWQ folder must hold: quant_awq.load_awq's contract without loading any data."""
    from stepaudio_engine.llm.contract import expected_tensors, linear_shapes
    from stepaudio_engine.llm.quant_awq import packed_shapes, weight_scheme

    scheme = weight_scheme(raw, "config.json")
    linears = linear_shapes(config)
    expected = dict(expected_tensors(config))
    for lin in [lin for lin in linears if f"{lin}.weight_packed" in shapes]:
        del expected[f"{lin}.weight"]
        for leaf, shape in packed_shapes(*linears[lin], scheme).items():
            expected[f"{lin}.{leaf}"] = shape
        zero_point = f"{lin}.weight_zero_point"
        if scheme.weights.symmetric and zero_point in shapes:
            expected[zero_point] = shapes[zero_point]   # tolerated by the loader (checked zero at load time)
    return expected


def _weights_check(variant: str, folder: Path) -> list[FileCheck]:
    """One check per weight file: the shards must open, then the whole set must match the contract."""
    from stepaudio_engine.llm.checkpoint import INDEX_FILE, _open, open_checkpoint, shard_map
    from stepaudio_engine.llm.config import read_config
    from stepaudio_engine.llm.contract import compare, expected_tensors, require

    fix = _fix(variant)
    index = folder / INDEX_FILE
    try:
        files = shard_map(folder)
    except EngineError as exc:
        where = index if index.is_file() else folder / "model.safetensors"
        return [FileCheck(variant, str(where), False, exc.message, fix)]
    shards = sorted(set(files.values()))
    checks = [FileCheck(variant, str(index), True, f"ok: names {len(shards)} shard(s)")] if index.is_file() else []
    opened: list[Path] = []
    for shard in shards:
        check = _check(variant, shard, lambda p: f"ok: {len(list(_open(p).keys()))} tensors in the header")
        checks.append(check)
        if check.ok:
            opened.append(shard)
    if len(opened) != len(shards):
        return checks

    def contract(_: Path) -> str:
        config, raw = read_config(folder)
        ckpt = open_checkpoint(folder)
        try:
            if variant == "bnb":
                from stepaudio_engine.llm.quant_bnb import check_prequantized

                check_prequantized(config, ckpt)
            else:
                expected = (_awq_expected(config, raw, ckpt.shapes) if variant == "awq"
                            else expected_tensors(config))
                require(compare(expected, ckpt.shapes), folder.name)
            return f"ok: {len(ckpt.shapes)} tensors match the {variant} loading contract"
        finally:
            ckpt.close()

    # the contract spans every shard: report it on the index (or the single file)
    checks.append(_check(variant, index if index.is_file() else shards[0], contract))
    checks[-1].message = checks[-1].message if checks[-1].ok else "tensor contract: " + checks[-1].message
    return checks


def check_llm(root: Path, variant: str) -> list[FileCheck]:
    from stepaudio_engine.llm.config import read_config
    from stepaudio_engine.llm.text_tokenizer import TextTokenizer
    from stepaudio_engine.llm.variants import variant_folder

    folder = variant_folder(root, variant)

    def config(path: Path) -> str:
        cfg, _ = read_config(path.parent)
        return f"ok: step1, {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, vocab {cfg.vocab_size}"

    def tokenizer_config(path: Path) -> str:
        from stepaudio_engine.release import RELEASE_2026, detect_release

        json.loads(path.read_text(encoding="utf-8"))
        release = detect_release(path.parent)
        why = "has a chat template" if release == RELEASE_2026 else "no chat template"
        return f"ok: JSON; release {release} ({why}; docs/engine/upstream-2026.md)"

    def text_tokenizer(path: Path) -> str:
        tok = TextTokenizer(path.parent)
        return f"ok: SentencePiece model, {tok.vocab_size} pieces"

    return [
        _check(variant, folder / "config.json", config),
        _check(variant, folder / "tokenizer_config.json", tokenizer_config),
        _check(variant, folder / "tokenizer.model", text_tokenizer),
        *_weights_check(variant, folder),
    ]


# ---- vocoder ---------------------------------------------------------------------------------------------

def check_vocoder(part: str, folder: Path) -> list[FileCheck]:
    from stepaudio_engine.vocoder.config import load_config
    from stepaudio_engine.vocoder.contract import flow_parameters, hift_parameters, rename_legacy_weight_norm

    holder: dict = {}

    def config(path: Path) -> str:
        holder["cfg"] = load_config(path.parent)
        return "ok: flow and HiFT sections read"

    def state_check(expected_fn: Callable) -> Callable[[Path], str]:
        def run(path: Path) -> str:
            if "cfg" not in holder:
                raise EngineError(Reason.MODEL_CORRUPT, "cannot check: cosyvoice.yaml is not readable", "")
            expected = expected_fn(holder["cfg"])
            state = rename_legacy_weight_norm(_torch_state(path), expected)
            problems = _shapes_problems(expected, state)
            if problems:
                raise EngineError(Reason.MODEL_CORRUPT, "; ".join(problems), "")
            return f"ok: {len(state)} tensors match cosyvoice.yaml"
        return run

    return [
        _check(part, folder / "cosyvoice.yaml", config),
        _check(part, folder / "flow.pt", state_check(lambda c: flow_parameters(c.flow))),
        _check(part, folder / "hift.pt", state_check(lambda c: hift_parameters(c.hift))),
        _check(part, folder / "campplus.onnx", lambda p: _onnx_io(p, 1)),
    ]


# ---- entry -----------------------------------------------------------------------------------------------

def vocoder_folder(root: Path, variant: str) -> Path:
    """The variant's own CosyVoice folder, else the base folder's (as folders.find_model_folders decides)."""
    from stepaudio_engine.folders import VOCODER_FOLDER
    from stepaudio_engine.llm.variants import variant_folder

    own = variant_folder(root, variant) / VOCODER_FOLDER
    return own if own.is_dir() or variant == "base" else variant_folder(root, "base") / VOCODER_FOLDER


def verify(root: Path, parts: list[str]) -> Iterator[FileCheck]:
    """Checks of every file of the given parts (tokenizer and/or variants) under the models root."""
    root = Path(root).expanduser()
    for part in parts:
        if part == TOKENIZER:
            yield from check_tokenizer(root)
        else:
            yield from check_llm(root, part)
            yield from check_vocoder(part, vocoder_folder(root, part))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stepaudio_engine.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", required=True, help="the models root")
    parser.add_argument("--json", action="store_true", help="print a JSON list of checks")
    parser.add_argument("parts", nargs="+", choices=PARTS, help="what to verify")
    args = parser.parse_args(argv)
    checks = []
    for check in verify(Path(args.models_dir), args.parts):
        checks.append(check)
        if not args.json:
            print(f"{'pass' if check.ok else 'FAIL'}  {check.part:9}  {check.file}: {check.message}", flush=True)
            if not check.ok and check.fix:
                print(f"      fix: {check.fix}", flush=True)
    if args.json:
        print(json.dumps([c.to_dict() for c in checks]))
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
