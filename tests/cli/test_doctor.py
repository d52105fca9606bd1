"""`stepaudio doctor`: every check reported with pass/warn/fail and a fix; exit 1 when one fails."""
from __future__ import annotations

import json
from pathlib import Path

from stepaudio_cli import model_files


def _doctor(sa, *args: str) -> tuple[int, dict]:
    result = sa.run(*args, "doctor", "--json", timeout=180)
    assert result.returncode in (0, 1), result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] == (result.returncode == 0)
    assert all(c["status"] in ("pass", "warn", "fail") for c in data["checks"])
    assert all(c["fix"] for c in data["checks"] if c["status"] != "pass"), data
    return result.returncode, {c["name"]: c for c in data["checks"]}


def _doctor_no_torch(sa, models: Path) -> tuple[int, dict]:
    result = sa.run("--models-dir", str(models), "doctor", "--json", "--no-torch", timeout=60)
    assert result.returncode in (0, 1), result.stderr
    data = json.loads(result.stdout)
    return result.returncode, {c["name"]: c for c in data["checks"]}


def _fake_models(root: Path) -> Path:
    """Empty files in the expected layout: doctor checks presence (verify checks contents)."""
    base = root / model_files.VARIANT_FOLDERS["base"]
    base.mkdir(parents=True)
    (base / model_files.INDEX_FILE).write_text(json.dumps({"weight_map": {"a": "model-00001-of-00001.safetensors"}}))
    for part in ("tokenizer", "base"):
        for rel in model_files.expected_files(root, part):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).touch()
    return root


def test_missing_models_fail_with_a_fix(sa, tmp_path):
    code, checks = _doctor_no_torch(sa, tmp_path / "none")
    assert code == 1
    assert checks["models"]["status"] == "fail" and "stepaudio models pull base" in checks["models"]["fix"]
    assert checks["python"]["status"] == "pass"
    assert checks["packages (cli)"]["status"] == "pass"
    assert checks["daemon"]["status"] == "pass" and "not running" in checks["daemon"]["detail"]
    assert "accelerator" not in checks                       # --no-torch
    assert {"memory", "settings", "disk (cache)", "disk (models)"} <= set(checks)


def test_incomplete_model_folder_names_the_missing_file(sa, tmp_path):
    root = _fake_models(tmp_path / "models")
    (root / "Step-Audio-EditX" / "CosyVoice-300M-25Hz" / "hift.pt").unlink()
    code, checks = _doctor_no_torch(sa, root)
    assert code == 1
    assert checks["model base"]["status"] == "fail"
    assert "CosyVoice-300M-25Hz/hift.pt" in checks["model base"]["detail"]
    assert checks["model base"]["fix"] == "stepaudio models pull base"


def test_healthy_install_with_a_running_daemon(sa, tmp_path):
    root = _fake_models(tmp_path / "models")
    assert sa.run("daemon", "start").returncode == 0
    code, checks = _doctor(sa, "--models-dir", str(root))
    assert checks["model base"]["status"] == "pass" and checks["model tokenizer"]["status"] == "pass"
    assert "models" not in checks
    assert checks["daemon"]["status"] == "pass" and "running, pid" in checks["daemon"]["detail"]
    assert checks["accelerator"]["status"] in ("pass", "warn")           # the torch subprocess answered
    if checks["accelerator"]["status"] == "warn":                          # no GPU: which CPU kernel and bits
        cpu = checks["LLM on CPU"]
        assert ("base 8-bit" in cpu["detail"]) if cpu["status"] == "pass" else "torch fp32" in cpu["detail"]
    assert "torch" in checks["packages (engine)"]["detail"]
    assert code == (1 if any(c["status"] == "fail" for c in checks.values()) else 0)


def test_text_output_and_a_broken_config(sa):
    config = sa.home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("queue_size = 'many'\n")
    result = sa.run("doctor", "--no-torch", timeout=60)
    assert result.returncode == 1
    line = next(row for row in result.stdout.splitlines() if " settings " in row)
    assert line.startswith("fail") and "queue_size" in line
    assert "fix: fix it: stepaudio config show" in result.stdout
    assert "failed" in result.stderr


def test_a_default_variant_that_is_not_installed_fails(sa, tmp_path):
    models = _fake_models(tmp_path / "m")  # base and the tokenizer only
    sa.set(default_variant="awq")
    code, checks = _doctor_no_torch(sa, models)
    assert code == 1 and checks["default variant"]["status"] == "fail", checks
    assert "'awq' is not installed" in checks["default variant"]["detail"]
    assert "default_variant base" in checks["default variant"]["fix"]
    sa.set(default_variant="bnb")  # quantised from base at load time: usable
    code, checks = _doctor_no_torch(sa, models)
    assert "default variant" not in checks
