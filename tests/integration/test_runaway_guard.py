"""The runaway guard through CLI → daemon → worker → the real engine whose LLM is kept from ending
(tests/runaway_engine.py): a capped generation is retried once with another seed, then reported; with
--candidates a runaway candidate loses."""
from __future__ import annotations

import json

import pytest

from sa_helpers import StepAudio, cleanup, short_tmp


@pytest.fixture
def runaway(tiny_models):
    root = short_tmp()
    # dtype fp32: the torch decode path, whose output head takes the hook (auto runs onnxruntime on the CPU)
    inst = StepAudio(root, engine="runaway_engine:RunawayEngine", models_dir=tiny_models, device="cpu", threads=1,
                     dtype="fp32")
    inst.control = root / "runaway"  # type: ignore[attr-defined]
    inst.env["RUNAWAY_CONTROL"] = str(inst.control)  # type: ignore[attr-defined]
    try:
        yield inst
    finally:
        inst.shutdown()
        cleanup(root)


def _clone(inst, out: str, *extra: str) -> dict:
    result = inst.run(*inst.clone_args(out, "Hi.", "--seed", "7", "--json", *extra), timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_generation_that_never_ends_is_capped_retried_once_and_reported(runaway):
    runaway.control.write_text("-1")
    data = _clone(runaway, "a.wav")
    chunk = data["report"]["chunks"][0]
    cap = data["options"]["max_new_tokens"]
    assert data["options"]["stop"] == "max_length" and chunk["stop"] == "max_length"
    assert chunk["retried_from_seed"] == 7 and chunk["seed"] == 57   # the retry used another seed
    # the cap bounds the audio: (cap - 1) ids of 5-token groups at 41.67 ids/s, not 8192 ids
    assert 0 < data["duration_s"] <= cap / 41.67 + 0.1
    assert any("token cap" in n for n in data["notes"])

    runaway.control.write_text("2")   # candidate 1 (seed 7) runs away twice; candidate 2 (seed 8) ends
    data = _clone(runaway, "b.wav", "--candidates", "2")
    kept = [c for c in data["report"]["candidates"] if c["kept"]]
    assert [c["seed"] for c in kept] == [8] and data["options"]["stop"] == "eos"
    loser = next(c for c in data["report"]["candidates"] if not c["kept"])
    assert loser["stop"] == "max_length"
