"""What loading the default (base) variant and running a clone import: none of the heavy modules that the
engine used to pull in for a few lines of arithmetic (each one costs a worker seconds and tens of MiB on
every load; see engine/dsp.py, engine/meta.py, vocoder/weight_norm.py). Run in a fresh interpreter, since
other tests in this process may have imported them already."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch._dynamo", "scipy", "librosa", "numba")

SCRIPT = """
import json, sys, tempfile, wave, struct, math
from stepaudio_engine.api import CancelToken, CloneRequest, LoadOptions
from stepaudio_engine.engine import Engine

ref = tempfile.mktemp(suffix=".wav")
with wave.open(ref, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(i / 9))) for i in range(16000)))
engine = Engine()
engine.load(LoadOptions(models_dir=sys.argv[1], device="cpu", threads=1, cache_dir=tempfile.mkdtemp()),
            lambda *a: None)
engine.clone(CloneRequest(ref_audio=ref, ref_text="a reference", text="hello", output=ref + ".out.wav", seed=1),
             lambda *a: None, CancelToken())
print(json.dumps(sorted(m for m in sys.modules if m in %r)))
""" % (HEAVY,)


def test_base_load_and_clone_import_no_heavy_modules(tiny_models):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_models)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
