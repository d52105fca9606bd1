"""Audio tokenizer cost per stage for 10 s of audio, CPU (issue 3).

    python benchmarks/tokenizer_cost.py [--seconds 10] [--repeats 3] [--threads 0] [--tiny-only]

Runs on two random-weight models written to a temp folder: the tiny model and a Paraformer of the released
size (50-block SAN-M encoder, width 512, 1024-entry codebook; the vq06 ONNX stays tiny, so the two vq06 rows
measure only our mel code and a small ONNX net). Each stage is timed on its own with the real engine code:
resample 24 kHz -> 16 kHz, energy norm + silence trim, vq02 front end (fbank/LFR/CMVN over 240 ms chunks),
SAN-M encoder layer at a time over all chunks (what `tokenize` runs, tokenizer/sanm_batched.py), k-means, vq06
log-mel, vq06 ONNX; plus, outside the sum, the SAN-M encoder chunk by chunk (the reference form, what `tokenize`
ran before). The baseline is one full `DualTokenizer.tokenize` call measured in the same run; the table gives each
stage's seconds (best of N), its share of the baseline and its real-time factor (seconds per second of audio).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np


def speechlike(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.4 * np.sin(2 * np.pi * 160 * t + 3 * np.sin(2 * np.pi * 3 * t)) * (1 + np.sin(2 * np.pi * 2.1 * t))
    return (0.6 * x / np.abs(x).max() + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def stage_times(folder: Path, seconds: float, repeats: int) -> list[tuple[str, float, bool]]:
    """(stage, best seconds, counted in the sum of stages) rows; the first row is the baseline."""
    import torch

    from stepaudio_engine.audio import energy_norm, trim_silence
    from stepaudio_engine.resample import resample
    from stepaudio_engine.tokenizer import DualTokenizer
    from stepaudio_engine.tokenizer.sanm_batched import encode_calls
    from stepaudio_engine.tokenizer.vq02 import CHUNK_SAMPLES_PER_FRAME, StreamingFrontend, nearest_centroid
    from stepaudio_engine.tokenizer.vq06 import log_mel, split_chunks

    tok = DualTokenizer(folder)
    vq02, vq06 = tok.vq02, tok.vq06
    wav = speechlike(seconds, 24000)
    tok.tokenize(wav, 24000)                                    # warm-up (allocations, ONNX first run)
    total, _ = best_of(repeats, lambda: tok.tokenize(wav, 24000))
    t_res, at16 = best_of(repeats, lambda: resample(wav, 24000, 16000))
    t_trim, trimmed = best_of(repeats, lambda: trim_silence(energy_norm(at16)))
    stride = vq02.chunk.frames * CHUNK_SAMPLES_PER_FRAME
    signal = torch.from_numpy(trimmed)
    n = len(trimmed) // stride + 1

    def front_end() -> list:
        fe = StreamingFrontend(vq02.opts, vq02.shift, vq02.scale)
        pieces = [signal[i * stride:(i + 1) * stride] for i in range(n)]
        return [fe.feed(p, i == n - 1) for i, p in enumerate(pieces) if p.numel() or i < n - 1]

    t_fe, feats = best_of(repeats, front_end)

    calls = [f for f in feats if len(f)]

    def encoder_loop() -> np.ndarray:
        state = vq02.encoder.new_state(vq02.chunk)
        rows = [vq02.encoder.forward_chunk(f[None], state, vq02.chunk)[0, -f.shape[0]:] for f in calls]
        return torch.cat(rows).numpy()

    def encoder_batched() -> np.ndarray:
        outs = encode_calls(vq02.encoder, calls, vq02.chunk)
        return torch.cat([o[0, -f.shape[0]:] for o, f in zip(outs, calls)]).numpy()

    t_loop, _ = best_of(repeats, encoder_loop)
    t_enc, encoded = best_of(repeats, encoder_batched)
    t_km, _ = best_of(repeats, lambda: nearest_centroid(encoded, vq02.codebook))
    chunks = split_chunks(trimmed)
    t_mel, mels = best_of(repeats, lambda: [log_mel(c) for c in chunks])
    t_onnx, _ = best_of(repeats, lambda: [vq06.tokens_for_mel(m) for m in mels])
    return [("tokenize (baseline)", total, False), ("resample 24k->16k", t_res, True),
            ("norm + trim", t_trim, True), ("vq02 fbank/LFR/CMVN", t_fe, True),
            ("vq02 encoder, batched", t_enc, True), ("vq02 k-means", t_km, True), ("vq06 log-mel", t_mel, True),
            ("vq06 onnx", t_onnx, True), ("(vq02 encoder, loop)", t_loop, False)]


def print_table(title: str, rows: list[tuple[str, float, bool]], seconds: float) -> None:
    base = rows[0][1]
    print(f"\n{title}  ({seconds:g} s of audio)")
    print(f"{'stage':<24}{'seconds':>10}{'x baseline':>12}{'RTF':>10}")
    for name, value, _ in rows:
        print(f"{name:<24}{value:>10.4f}{value / base:>12.3f}{value / seconds:>10.4f}")
    parts = sum(v for _, v, counted in rows if counted)
    print(f"{'sum of stages':<24}{parts:>10.4f}{parts / base:>12.3f}{parts / seconds:>10.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--tiny-only", action="store_true", help="skip the released-size model (~880 MB)")
    args = parser.parse_args()

    import torch

    from stepaudio_engine.tiny.tokenizer import RELEASED_SIZES, write_random_tokenizer, write_tiny_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        tiny = write_tiny_tokenizer(Path(tmp) / "tiny")
        print_table("tiny model", stage_times(tiny, args.seconds, args.repeats), args.seconds)
        if not args.tiny_only:
            full = write_random_tokenizer(Path(tmp) / "full", seed=0, sizes=RELEASED_SIZES)
            print_table("released-size Paraformer, random weights (vq06 ONNX tiny)",
                        stage_times(full, args.seconds, args.repeats), args.seconds)


if __name__ == "__main__":
    main()
