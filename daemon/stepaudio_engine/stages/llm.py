"""Stage tool commands of the step1 LLM: `prompt`, `logits`, `generate` (see docs/engine/llm.md).

Token files are 1-D int64 .npy arrays. Audio prompt tokens are mixed 0-based (vq02 0..1023, vq06 1024..5119,
groups of 2+3) as `tokenize` writes them (10_prompt_tokens.npy); LLM ids are vocabulary ids (audio = 65536+N).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from stepaudio_engine.llm.variants import VARIANTS

PROMPT_HELP = """\
writes --out (a .npy file): int64 (L,) LLM prompt ids, built exactly as upstream (piecewise encoding,
<s>=1 <|BOT|>=4 <|EOT|>=3). clone: --ref-text, --audio-tokens, --text, and --speaker-id or --ref-audio
(speaker id = clone_ + sha256 of text and raw samples). edit: --audio-text, --audio-tokens, --edit-type,
--edit-info (option of emotion/style/speed), --text (target text of paralinguistic edits).
"""

LOGITS_HELP = """\
files written to --out (L = prompt length, P = chosen positions, V = vocabulary 74752):
  logits.npy      float32 (P, V)  logits at the chosen positions (--positions last | all | 0,5,-1)
  positions.npy   int64   (P,)    those positions (0-based)
  argmax.npy      int64   (L,)    argmax id at every position
  logsumexp.npy   float32 (L,)    logsumexp of the float32 logits at every position
"""

GENERATE_HELP = """\
files written to --out (n = generated ids, K = --top-k, V = vocabulary 74752):
  generated_ids.npy   int64   (n,)    new LLM ids, the stop id <|EOT|>=3 included when reached
  audio_tokens.npy    int64   (m,)    post-processed: last id dropped (2026-01: only an <|EOT|>), non-audio ids
                                      dropped, minus 65536 (mixed 0-based prompt tokens for the vocoder)
  step_topk_ids.npy   int64   (n, K)  per step, the K ids with the largest float32 logits (before the ban,
                                      temperature and top-k), largest first
  step_topk_logits.npy float32 (n, K) their logits
  step_logsumexp.npy  float32 (n,)    logsumexp of each step's logits
  step_logits.npy     float32 (n, V)  each step's full logits (only with --all-logits)
  meta.json           release and sampling settings used
--greedy N: argmax continuation of at most N tokens (with the repetition ban for 2025-11); --sample N --seed S:
upstream's sampling for at most N tokens: 2025-11 temperature 0.7, top-k 50, repetition ban; 2026-01 (vLLM
path) temperature 0.7, no top-k, no ban (docs/engine/upstream-2026.md#generation). --release picks the profile
(default: the folder's, by its chat template).
"""


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm-dir", required=True, type=Path, help="LLM folder (e.g. <models>/Step-Audio-EditX)")
    p.add_argument("--variant", default="base", choices=list(VARIANTS), help="how to load it")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--dtype", default="fp32", help="fp32 | bf16 | auto")
    p.add_argument("--kernel", default="torch", choices=["torch", "onnxruntime", "auto"],
                   help="torch: the exact path (default); onnxruntime: the fast CPU path (base 8-bit, "
                        "bnb/awq 4-bit, int8 activations); auto: as the daemon loads")
    p.add_argument("--prompt", required=True, type=Path, help=".npy int64 (L,) prompt ids (from `prompt`)")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("prompt", help="clone/edit prompt ids of the step1 LLM (.npy)",
                              description="Build the LLM prompt ids for a clone or an edit.", epilog=PROMPT_HELP,
                              formatter_class=fmt)
    p.add_argument("--llm-dir", required=True, type=Path, help="LLM folder holding tokenizer.model")
    p.add_argument("--mode", required=True, choices=["clone", "edit"])
    p.add_argument("--audio-tokens", required=True, type=Path, help=".npy mixed 0-based prompt tokens")
    p.add_argument("--text", default="", help="clone: text to speak; paralinguistic edit: tagged target text")
    p.add_argument("--ref-text", default="", help="clone: transcript of the reference audio")
    p.add_argument("--speaker-id", default="", help="clone: speaker id (default: from --ref-audio)")
    p.add_argument("--ref-audio", type=Path, help="clone: reference audio file, to derive the speaker id")
    p.add_argument("--audio-text", default="", help="edit: transcript of the audio")
    p.add_argument("--edit-type", default="", help="edit: emotion | style | speed | paralinguistic | denoise | vad")
    p.add_argument("--edit-info", default="", help="edit: the option (e.g. happy)")
    p.add_argument("--language", default="", help="clone: language of --text; its tag goes in front "
                   "(japanese, korean, cantonese, sichuanese; mandarin/english: none)")
    p.add_argument("--out", required=True, type=Path, help="output .npy file")
    p.set_defaults(func=run_prompt)

    p = subparsers.add_parser("logits", help="float32 logits of the step1 forward over a prompt (.npy)",
                              description="Run the step1 decoder over prompt ids and dump logits.",
                              epilog=LOGITS_HELP, formatter_class=fmt)
    _model_args(p)
    p.add_argument("--positions", default="last", help="last | all | comma-separated indices; negative ones "
                                                         "count from the end (write --positions=-1,0)")
    p.set_defaults(func=run_logits)

    p = subparsers.add_parser("generate", help="greedy or seeded continuation of a prompt (.npy)",
                              description="Generate LLM ids after a prompt with the repetition rule.",
                              epilog=GENERATE_HELP, formatter_class=fmt)
    _model_args(p)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--greedy", type=int, metavar="N", help="greedy continuation of at most N tokens")
    mode.add_argument("--sample", type=int, metavar="N", help="sampled continuation of at most N tokens")
    p.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    p.add_argument("--release", choices=("auto", "2025-11", "2026-01"), default="auto",
                   help="sampling profile (auto: the folder's release)")
    p.add_argument("--top-k", type=int, default=20, help="ids per step in step_topk_*.npy (default 20)")
    p.add_argument("--all-logits", action="store_true", help="also write step_logits.npy (n, 74752) float32")
    p.set_defaults(func=run_generate)


def _ids(path: Path) -> list[int]:
    return [int(v) for v in np.asarray(np.load(path, allow_pickle=False)).reshape(-1)]


def _report(exc: Exception) -> int:
    print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
    if getattr(exc, "hint", ""):
        print(f"hint: {exc.hint}", file=sys.stderr)
    return 1


def _speaker_id(args: argparse.Namespace) -> str:
    if args.speaker_id:
        return args.speaker_id
    if args.ref_audio is None:
        raise SystemExit("clone needs --speaker-id or --ref-audio")
    import soundfile as sf

    from stepaudio_engine.llm.prompts import speaker_id_for

    data, _ = sf.read(str(args.ref_audio), dtype="float32", always_2d=True)
    return speaker_id_for(args.ref_text, data.T)    # (channels, frames), like torchaudio.load


def run_prompt(args: argparse.Namespace) -> int:
    from stepaudio_engine.api import EngineError
    from stepaudio_engine.llm.prompts import PromptBuilder

    try:
        builder = PromptBuilder(args.llm_dir)
        audio = _ids(args.audio_tokens)
        if args.mode == "clone":
            from stepaudio_engine.llm.languages import with_language_tag

            text = with_language_tag(args.text, args.language)
            ids = builder.clone_prompt(args.ref_text, audio, text, _speaker_id(args))
        else:
            ids = builder.edit_prompt(args.audio_text, audio, args.edit_type, args.edit_info, args.text)
    except EngineError as exc:
        return _report(exc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, np.asarray(ids, dtype=np.int64))
    print(f"{args.out}: {len(ids)} ids")
    return 0


def _positions(spec: str, length: int) -> list[int]:
    if spec == "all":
        return list(range(length))
    if spec == "last":
        return [length - 1]
    picked = [int(p) for p in spec.split(",") if p.strip()]
    return [p + length if p < 0 else p for p in picked]


def run_logits(args: argparse.Namespace) -> int:
    import torch

    from stepaudio_engine.api import EngineError
    from stepaudio_engine.llm import load_llm

    try:
        llm = load_llm(args.llm_dir, args.variant, args.device, args.dtype, args.kernel)
    except EngineError as exc:
        return _report(exc)
    ids = _ids(args.prompt)
    positions = _positions(args.positions, len(ids))
    if any(not 0 <= p < len(ids) for p in positions):
        return _report(ValueError(f"--positions outside 0..{len(ids) - 1}"))
    chosen: dict[int, "torch.Tensor"] = {}
    argmax, lse = [], []
    with torch.inference_mode():
        hidden = llm.model.hidden_states(torch.tensor([ids], device=llm.device))[0]
        for start in range(0, len(ids), 256):       # the head in slices: (L, 74752) float32 can be large
            logits = llm.model.lm_head(hidden[start:start + 256]).float()
            argmax.append(logits.argmax(-1).cpu())
            lse.append(torch.logsumexp(logits, -1).cpu())
            chosen.update({p: logits[p - start].cpu() for p in positions if start <= p < start + 256})
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rows = torch.stack([chosen[p] for p in positions])
    np.save(out / "logits.npy", rows.numpy().astype(np.float32))
    np.save(out / "positions.npy", np.asarray(positions, dtype=np.int64))
    np.save(out / "argmax.npy", torch.cat(argmax).numpy().astype(np.int64))
    np.save(out / "logsumexp.npy", torch.cat(lse).numpy().astype(np.float32))
    print(f"wrote logits at {len(positions)} position(s) of {len(ids)} to {out}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    import json

    import torch

    from stepaudio_engine.api import EngineError
    from stepaudio_engine.llm import load_llm
    from stepaudio_engine.llm.sampling import GenerationOptions, generate_detailed
    from stepaudio_engine.release import detect_release

    ids = _ids(args.prompt)
    greedy = args.greedy is not None
    limit = args.greedy if greedy else args.sample
    release = detect_release(args.llm_dir) if args.release == "auto" else args.release
    opts = GenerationOptions.for_release(release, greedy=greedy, seed=None if greedy else args.seed,
                                         max_length=len(ids) + limit)
    k = max(1, args.top_k)
    top_ids, top_logits, lse, full = [], [], [], []

    def record(step: int, logits: torch.Tensor) -> None:
        values, indices = torch.topk(logits, min(k, logits.shape[-1]))
        top_ids.append(indices.cpu())
        top_logits.append(values.cpu())
        lse.append(torch.logsumexp(logits, -1).cpu())
        if args.all_logits:
            full.append(logits.cpu())

    try:
        llm = load_llm(args.llm_dir, args.variant, args.device, args.dtype, args.kernel)
        result = generate_detailed(llm, ids, opts, on_logits=record)
    except EngineError as exc:
        return _report(exc)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "generated_ids.npy", np.asarray(result.new_ids, dtype=np.int64))
    np.save(out / "audio_tokens.npy", np.asarray(result.audio_tokens, dtype=np.int64))
    np.save(out / "step_topk_ids.npy", torch.stack(top_ids).numpy().astype(np.int64))
    np.save(out / "step_topk_logits.npy", torch.stack(top_logits).numpy().astype(np.float32))
    np.save(out / "step_logsumexp.npy", torch.stack(lse).numpy().astype(np.float32))
    if args.all_logits:
        np.save(out / "step_logits.npy", torch.stack(full).numpy().astype(np.float32))
    meta = {"release": release, "greedy": greedy, "seed": result.seed, "temperature": opts.temperature,
            "top_k": opts.top_k, "repetition_ban": opts.repetition_ban, "drop_last": opts.drop_last,
            "stop": result.stop_reason}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    print(f"generated {len(result.new_ids)} ids (stop: {result.stop_reason}, release {release}), "
          f"{len(result.audio_tokens)} audio tokens, to {out}")
    return 0
