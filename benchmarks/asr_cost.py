"""Transcription cost for 10 s of audio at the released size (random weights), CPU; and what reusing the
tokenizer's encoder pass could save.

    python benchmarks/asr_cost.py [--seconds 10] [--repeats 3] [--threads 1] [--tiny]

Writes a Paraformer of the released size (50-block encoder, 16-block decoder, vocabulary 8501, random weights)
to a temp folder, loads `Transcriber.from_tokenizer` (encoder shared with the DualTokenizer) and times, on the
same 16 kHz audio: the baseline = the tokenizer's vq02 pass (front end + encoder in 240 ms chunks, k-means);
a full `transcribe` (600 ms chunks); and the ASR stages on their own (front end, encoder as a chunk loop and
layer by layer over all chunks as `transcribe` runs it, CIF + decoder). The encoder row is the most a reuse of
the tokenizer's pass could save; docs/engine/asr.md explains why the engine does not reuse it (the ASR needs
other rows and chunking than vq02 keeps).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    x = 0.4 * np.sin(2 * np.pi * 160 * t + 3 * np.sin(2 * np.pi * 3 * t)) * (1 + np.sin(2 * np.pi * 2.1 * t))
    return (0.6 * x / np.abs(x).max() + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def measure(folder: Path, seconds: float, repeats: int) -> list[tuple[str, float]]:
    import torch

    from stepaudio_engine.asr import Transcriber
    from stepaudio_engine.asr.cif import CifState
    from stepaudio_engine.asr.transcriber import SAMPLES_PER_LFR_FRAME
    from stepaudio_engine.tokenizer import DualTokenizer
    from stepaudio_engine.tokenizer.sanm import ChunkConfig
    from stepaudio_engine.tokenizer.vq02 import StreamingFrontend

    tok = DualTokenizer(folder)
    asr = Transcriber.from_tokenizer(tok)
    wav = speechlike(seconds)
    asr.transcribe(wav, 16000)                                  # warm-up
    t_vq02, _ = best_of(repeats, lambda: tok.vq02.encode(wav))
    t_asr, result = best_of(repeats, lambda: asr.transcribe(wav, 16000))
    c = asr.chunking
    chunk = ChunkConfig(left=c.left, frames=c.frames, overlap=c.lookahead, look_back=c.encoder_look_back)
    stride = c.frames * SAMPLES_PER_LFR_FRAME
    signal = torch.from_numpy(wav)
    n = len(wav) // stride + 1

    def front_end() -> list:
        fe = StreamingFrontend(asr.opts, asr.shift, asr.scale)
        return [fe.feed(signal[i * stride:(i + 1) * stride], i == n - 1) for i in range(n)]

    t_fe, feats = best_of(repeats, front_end)

    def encoder() -> list:
        state = asr.encoder.new_state(chunk)
        return [asr.encoder.forward_chunk(f[None], state, chunk) for f in feats if len(f)]

    t_enc, _ = best_of(repeats, encoder)
    t_batched, calls = best_of(repeats, lambda: asr.encode_calls(wav))
    memories = [m for m, _ in calls]

    def cif_decoder() -> int:
        cif, dec = CifState(), asr.decoder.new_state()
        return sum(len(asr.decode_memory(m, cif, dec, i == len(memories) - 1)) for i, m in enumerate(memories))

    t_dec, _ = best_of(repeats, cif_decoder)
    print(f"  {len(result.token_ids)} tokens decoded; ASR parameters held {asr.memory_bytes() / 2**20:.0f} MiB "
          f"(encoder shared, {tok.vq02.memory_bytes() / 2**20:.0f} MiB with the tokenizer)")
    return [("vq02 pass (baseline)", t_vq02), ("transcribe (total)", t_asr), ("  front end", t_fe),
            ("  encoder, chunk loop", t_enc), ("  front end + encoder, batched", t_batched), ("  CIF + decoder", t_dec)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    parser.add_argument("--tiny", action="store_true", help="use the tiny model instead (quick check)")
    args = parser.parse_args()

    import torch

    from stepaudio_engine.tiny.tokenizer import RELEASED_SIZES, write_random_tokenizer, write_tiny_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_tiny_tokenizer(Path(tmp)) if args.tiny else \
            write_random_tokenizer(Path(tmp), seed=0, sizes=RELEASED_SIZES)
        rows = measure(folder, args.seconds, args.repeats)
    base = rows[0][1]
    print(f"\n{'tiny' if args.tiny else 'released size'}, {args.seconds:g} s of audio")
    print(f"{'stage':<32}{'seconds':>10}{'x baseline':>12}{'RTF':>10}")
    for name, value in rows:
        print(f"{name:<32}{value:>10.4f}{value / base:>12.3f}{value / args.seconds:>10.4f}")


if __name__ == "__main__":
    main()
