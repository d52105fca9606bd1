"""Stage tool `tokenize`: run the audio front end and the dual tokenizer, dump every stage as .npy."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

STAGES_HELP = """\
files written to OUTDIR (T02 = vq02 frames, T06 = vq06 frames, G = 5-token groups, C = channels):
  00_loaded.npy          float32 (C, N)        the file as decoded, before mono mixing and the peak cap
  01_mono_capped.npy     float32 (N,)          mono, peak-capped at 0.6, at the file's own rate
  02_audio_16k.npy       float32 (N16,)        resampled to 16 kHz (sinc, width 6, rolloff 0.99)
  03_energy_norm.npy     float32 (N16,)        peak-normalised to 0.999 (floor 0.01)
  04_trimmed.npy         float32 (L,)          silence-trimmed: L = ceil(span/240)*240 + 4320
  05_vq02_feats.npy      float32 (T02, 560)    fbank 80 -> LFR 7/6 -> CMVN, all chunks
  06_vq02_encoder.npy    float32 (T02, D)      Paraformer streaming encoder output (D = 512 released)
  06_vq02_calls.npy      int64   (calls, 2)    per encoder call: feature rows fed, rows returned
  07_vq02_codes.npy      int64   (T02,)        nearest codebook row, 0..1023
  08_vq06_mel_<i>.npy    float32 (128, T_i)    whisper log-mel of 30 s chunk i
  09_vq06_codes.npy      int64   (T06,)        ONNX tokenizer output, 0..4095
  10_prompt_tokens.npy   int64   (5G,)         interleaved 2:3, vq06 + 1024
  11_llm_ids.npy         int64   (5G,)         prompt tokens + 65536
  meta.json              sample rate, shapes, the <audio_N> string, the vq02 encoder form used
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "tokenize", help="audio -> vq02/vq06 tokens, every stage as .npy",
        description="Run audio loading, resampling, normalisation, trimming and both tokenizers.",
        epilog=STAGES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", required=True, type=Path,
                        help="models root (holding Step-Audio-Tokenizer/) or the tokenizer folder itself")
    parser.add_argument("--audio", required=True, help="input audio file")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created)")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="reject longer audio (default 30)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (onnxruntime provider + torch)")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = default)")
    parser.add_argument("--vq02-encoder", choices=("batched", "loop"), default="batched",
                        help="batched: layer by layer over all calls (the engine's, default); loop: the reference "
                             "chunk loop, one encoder call at a time as upstream runs it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stepaudio_engine.api import EngineError
    from stepaudio_engine.audio import load_audio
    from stepaudio_engine.tokenizer import DualTokenizer

    try:
        wav, sr = load_audio(args.audio, args.max_seconds)
        loaded = _decoded(args.audio)
        tokenizer = DualTokenizer(args.models, device=args.device, ort_threads=args.threads)
        trace = tokenizer.trace(wav, sr, batched=args.vq02_encoder == "batched")
    except EngineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    tokens = trace.tokens
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    arrays = {
        "00_loaded": loaded,
        "01_mono_capped": wav.astype(np.float32),
        "02_audio_16k": trace.at_16k,
        "03_energy_norm": trace.normed,
        "04_trimmed": trace.trimmed,
        "05_vq02_feats": trace.vq02_feats,
        "06_vq02_encoder": trace.vq02_encoded,
        "06_vq02_calls": trace.vq02_call_lengths,
        "07_vq02_codes": tokens.vq02,
        "09_vq06_codes": tokens.vq06,
        "10_prompt_tokens": np.asarray(tokens.prompt_tokens, dtype=np.int64),
        "11_llm_ids": np.asarray(tokens.llm_ids, dtype=np.int64),
    }
    arrays.update({f"08_vq06_mel_{i}": mel for i, mel in enumerate(trace.vq06_mels)})
    for name, array in sorted(arrays.items()):
        np.save(out / f"{name}.npy", array)
        print(out / f"{name}.npy")
    meta = {"sample_rate": sr, "tokenizer_rate": 16000,
            "shapes": {name: list(np.shape(a)) for name, a in arrays.items()},
            "audio_str": tokens.audio_str, "vq02_encoder": args.vq02_encoder}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    print(out / "meta.json")
    return 0


def _decoded(path: str) -> np.ndarray:
    """The file's samples as decoded (float32, channels first), before anything of ours touches them."""
    import soundfile as sf

    data, _ = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)
