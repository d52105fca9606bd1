"""Damaged or vanishing model files (issue 8, fault 5), loaded through the daemon with the real engine:
a damaged file fails the load with MODEL_CORRUPT naming that file; a folder deleted while loaded leaves the
loaded worker working and the next load says MODEL_MISSING."""
from __future__ import annotations

import os
import shutil

import pytest

from faults.fault_tools import (assert_daemon_healthy, assert_no_output, assert_no_workers, copy_models,
                                load_outcome, overlay, own)

SHARD = "Step-Audio-EditX/model-00002-of-00002.safetensors"
FLOW = "Step-Audio-EditX/CosyVoice-300M-25Hz/flow.pt"
ONNX = "Step-Audio-Tokenizer/speech_tokenizer_v1.onnx"


def _truncate(path):
    os.truncate(path, path.stat().st_size // 2)


def _garbage(path):
    path.write_bytes(os.urandom(4096))


@pytest.mark.parametrize("rel, damage, says", [
    (SHARD, _truncate, "is not a readable safetensors file"),
    (FLOW, _garbage, "cannot read vocoder weights"),
    (ONNX, _garbage, "INVALID_PROTOBUF"),
], ids=["truncated-shard", "garbage-flow.pt", "bad-onnx"])
def test_a_damaged_file_fails_the_load_naming_it(real, rel, damage, says):
    models = overlay(real.models_source, real.root / "models")
    damage(own(models / rel))
    real.set(models_dir=models)
    daemon = real.status()["pid"]

    outcome = load_outcome(real)
    assert outcome["event"] == "failed" and outcome["reason"] == "MODEL_CORRUPT", outcome
    assert str(models / rel) in outcome["message"] and says in outcome["message"]
    assert "download" in outcome["hint"]
    assert "weights_only" not in outcome["message"]  # never advise loading it unsafely
    if rel == SHARD:  # the CLI shows it (once: each load costs seconds)
        shown = real.run("load", timeout=300)
        assert shown.returncode == 1
        assert f"error: {outcome['message']}" in shown.stderr and "hint: " in shown.stderr
        assert "Traceback" not in shown.stderr
    assert_no_workers(real)
    assert_daemon_healthy(real, daemon)
    assert real.variant()["tier"] == "unloaded"


def test_models_deleted_while_loaded(real):
    models = copy_models(real.models_source, real.root / "models")
    real.set(models_dir=models)
    assert real.run("load", "--keep-alive", "-1", timeout=300).returncode == 0
    daemon, worker = real.status()["pid"], real.variant()["worker_pid"]
    shutil.rmtree(models)

    # the loaded worker holds what it needs: the job works, or fails with a clear error (never a crash)
    job = real.run(*real.clone_args("a.wav", "still here"), timeout=300)
    assert "Traceback" not in job.stderr
    if job.returncode == 0:
        assert (real.work / "a.wav").stat().st_size > 44
    else:
        assert job.returncode == 1 and "error: " in job.stderr and "was killed" not in job.stderr
        assert_no_output(real, "a.wav")
    assert real.variant()["worker_pid"] == worker

    assert real.run("unload", timeout=60).returncode == 0
    assert_no_workers(real)
    outcome = load_outcome(real)
    assert outcome["event"] == "failed" and outcome["reason"] == "MODEL_MISSING", outcome
    assert str(models) in outcome["message"]
    assert_daemon_healthy(real, daemon)
