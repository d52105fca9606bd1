"""Import discipline: the CLI and the daemon never load torch or numpy (DESIGN.md §2, §3)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_cli_and_daemon_server_leave_torch_and_numpy_out():
    mods = _modules_after("import stepaudio_cli.app, stepaudio_cli.client, stepaudio_cli.entry, "
                          "stepaudiod.main, stepaudiod.server, stepaudiod.scheduler, stepaudiod.worker_runner")
    assert "torch" not in mods and "numpy" not in mods
    assert not any(m.startswith("stepaudio_engine.") for m in mods if m != "stepaudio_engine.api")


def test_cli_entry_point_does_not_import_grpc_before_it_needs_it():
    mods = _modules_after("import stepaudio_cli.entry")
    assert "grpc" not in mods and "typer" not in mods


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed")
    result = subprocess.run([exe, str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_loads_neither_ray_nor_the_ray_runner_until_batch_ray_runs():
    mods = _modules_after("import stepaudio_cli.app, stepaudio_cli.batch, stepaudio_cli.batch_ray")
    assert "ray" not in mods and not any(m.startswith("stepaudio_ray") for m in mods)


def test_ray_runner_driver_side_leaves_torch_and_the_engine_out():
    mods = _modules_after("import stepaudio_ray.runner, stepaudio_ray.actor, stepaudio_ray.tasks")
    assert "torch" not in mods and "ray" not in mods  # ray itself is imported when a run connects
    assert not any(m.startswith("stepaudio_engine") for m in mods)
