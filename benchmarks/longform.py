"""Long text (issue 13): time to first audio, cost per output second, and memory against text length.

    python benchmarks/longform.py [--models DIR] [--seeds 3] [--long-chars 20000] [--threads 1]

Runs stepaudio_engine.engine.Engine in-process (no daemon, no CLI) on the tiny model (written to a temp folder
unless --models names one), prompt cache on, after one warm-up clone. Three tables, each a ratio against a
baseline measured in the same run:
  1. time to first audio ÷ total for a 10-sentence text: streamed (the first piece handed out, AUDIO_STAGE)
     against not streamed (a file is usable only when the job ends: the ratio is 1 by construction, and the
     row shows the seconds a listener waits instead);  goal ≤ 0.2 streamed.
  2. cost per second of output (job seconds ÷ audio seconds) of a 10-chunk text ÷ a 1-chunk text, summed
     over --seeds seeds (the tiny model ends its utterances at random, so single runs vary);  goal ≤ 1.1.
  3. peak RSS of a fresh process that loads the engine and speaks a --long-chars text ÷ one that speaks 200
     characters (each in its own subprocess, ru_maxrss);  goal ≤ 1.2.
The tiny model's LLM and vocoder are far cheaper than the released ones: the prompt prefill every chunk pays
is a larger share of a tiny chunk than of a real one. No assertions: this only prints.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from stepaudio_engine.api import AUDIO_STAGE, CancelToken, CloneRequest, LoadOptions  # noqa: E402

SENTENCES = [
    "The morning train was late again, so everyone stood on the platform and waited.",
    "A small dog walked between the benches, looking for someone who might share a sandwich.",
    "Nobody said much, because it was cold and the coffee stand had not opened yet.",
    "Then the loudspeaker crackled and announced a delay of another twenty minutes.",
    "Some people sighed, some laughed, and one man began to read his newspaper aloud.",
    "He read about the weather, about a football match, and about a cat that had learned to swim.",
    "By the time he reached the crossword, half the platform was listening to him.",
    "When the train finally arrived, the doors opened with a tired hiss.",
    "Everyone climbed in, still smiling at the story of the swimming cat.",
    "The dog stayed behind on the platform, waiting for the next train and the next sandwich.",
]


def load(models: str, threads: int, cache: str):
    from stepaudio_engine.engine import Engine

    engine = Engine()
    engine.load(LoadOptions(models_dir=models, device="cpu", threads=threads, cache_dir=cache), lambda *a: None)
    return engine


def clone(engine, ref: str, text: str, out: str, seed: int, stream: bool = False) -> dict:
    first = []
    started = time.monotonic()

    def progress(stage: str, fraction: float, detail: dict) -> None:
        if stage == AUDIO_STAGE and not first:
            first.append(time.monotonic() - started)
    result = engine.clone(CloneRequest(ref, "a reference recording", text, out, seed=seed, stream=stream),
                          progress, CancelToken())
    total = time.monotonic() - started
    return {"total": total, "first": first[0] if first else total, "audio": result.duration_s,
            "chunks": len(result.report.get("chunks", []))}


def write_ref(folder: Path) -> str:
    import soundfile as sf

    t = np.arange(3 * 16000) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    path = folder / "ref.wav"
    sf.write(str(path), wav, 16000)
    return str(path)


def long_text(chars: int) -> str:
    text, i = "", 0
    while len(text) < chars:
        text += SENTENCES[i % len(SENTENCES)] + (" " if i % 7 != 6 else "\n\n")
        i += 1
    return text[:chars].rsplit(" ", 1)[0] + "."


def child_rss(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="lf-rss-"))
    engine = load(args.models, args.threads, str(work / "cache"))
    result = clone(engine, write_ref(work), long_text(args.child_rss), str(work / "o.wav"), seed=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"chars": args.child_rss, "rss": peak, **result}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="models folder (default: a tiny model in a temp folder)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--long-chars", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child-rss", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.models:
        from stepaudio_engine.tiny import ensure_tiny_models

        args.models = str(ensure_tiny_models(Path(tempfile.mkdtemp(prefix="lf-tiny-")) / "models"))
    if args.child_rss:
        return child_rss(args)
    work = Path(tempfile.mkdtemp(prefix="lf-bench-"))
    engine = load(args.models, args.threads, str(work / "cache"))
    ref = write_ref(work)
    clone(engine, ref, "warm up", str(work / "w.wav"), seed=0)
    ten = " ".join(SENTENCES)
    print("## 1. time to first audio, 10-sentence text")
    print("| mode | first audio s | total s | chunks | first ÷ total |\n|---|---|---|---|---|")
    for stream in (False, True):
        runs = [clone(engine, ref, ten, str(work / "t.wav"), seed, stream) for seed in range(args.seeds)]
        first = float(np.median([r["first"] if stream else r["total"] for r in runs]))
        total = float(np.median([r["total"] for r in runs]))
        print(f"| {'streamed' if stream else 'not streamed (file at the end)'} | {first:.2f} | {total:.2f} | "
              f"{runs[0]['chunks']} | {first / total:.3f} |")
    print("\n## 2. cost per output second, 10 chunks ÷ 1 chunk")
    print("| text | chunks | job s | audio s | job s per audio s | ratio |\n|---|---|---|---|---|---|")
    base = None
    for name, text in (("1 sentence", SENTENCES[0]), ("10 sentences", ten)):
        runs = [clone(engine, ref, text, str(work / "c.wav"), 100 + seed) for seed in range(args.seeds)]
        job, audio = sum(r["total"] for r in runs), sum(r["audio"] for r in runs)
        cost = job / audio
        base = base or cost
        print(f"| {name} | {runs[0]['chunks']} | {job:.2f} | {audio:.2f} | {cost:.3f} | {cost / base:.2f} |")
    print(f"\n## 3. peak RSS of a process that loads the engine and speaks the text ({args.threads} thread)")
    print("| characters | chunks | job s | audio s | peak RSS MiB | ratio |\n|---|---|---|---|---|---|")
    base = None
    for chars in (200, args.long_chars):
        out = subprocess.run([sys.executable, __file__, "--models", args.models, "--threads", str(args.threads),
                              "--child-rss", str(chars)], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
        r = json.loads(out.stdout.strip().splitlines()[-1])
        base = base or r["rss"]
        print(f"| {chars} | {r['chunks']} | {r['total']:.1f} | {r['audio']:.1f} | {r['rss'] / 2**20:.0f} | "
              f"{r['rss'] / base:.2f} |")


if __name__ == "__main__":
    main()
