"""`stepaudio models` list and verify on the tiny model folder and on damaged copies of it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stepaudio_cli import model_files


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from stepaudio_engine.tiny import ensure_tiny_models

    return ensure_tiny_models(tmp_path_factory.mktemp("tiny") / "models")


def _files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_file_table_matches_the_tiny_writer(tiny):
    """Every file the table expects is written, and every file written is expected (or a known extra)."""
    written = _files_under(tiny)
    expected: set[str] = set()
    for part in model_files.all_parts():
        files = set(model_files.expected_files(tiny, part))
        assert files <= written, f"{part}: table expects files the tiny writer does not write: {files - written}"
        expected |= files
    # the bnb folder carries its own vocoder copy in the tiny writer: every variant's table names its own
    extras = {model_files.TINY_MARKER} | {f"{model_files.TOKENIZER_FOLDER}/{model_files.PARAFORMER}/{name}"
                                          for name in ("configuration.json", "tokens.json", "tokens.txt")}
    assert written - expected == extras


def test_file_table_matches_the_engine_constants():
    from stepaudio_engine import folders
    from stepaudio_engine.llm.variants import VARIANTS
    from stepaudio_engine.tokenizer import folders as tok

    assert model_files.VARIANT_FOLDERS == {name: v.folder for name, v in VARIANTS.items()}
    assert model_files.TOKENIZER_FOLDER == tok.TOKENIZER_FOLDER
    assert model_files.PARAFORMER == tok.FUNASR_MODEL_ID
    assert model_files.VOCODER_FOLDER == folders.VOCODER_FOLDER
    assert model_files.TINY_MARKER == folders.TINY_MARKER
    assert {k: v for k, v in model_files.HF_REPOS.items() if k != "tokenizer"} == \
        {k: v for k, v in folders.HF_REPOS.items() if k != "bnb"}


def test_models_lists_complete_parts_as_json(sa, tiny):
    result = sa.run("models", "--json", "--models-dir", str(tiny))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["models_dir"] == str(tiny)
    parts = {p["name"]: p for p in data["parts"]}
    assert set(parts) == {"tokenizer", "base", "bnb", "awq"}
    for p in parts.values():
        assert p["complete"] and p["tiny"] and not p["missing"], p
        assert p["size_bytes"] > 100_000
    assert parts["base"]["vocoder"] == str(tiny / "Step-Audio-EditX" / "CosyVoice-300M-25Hz")


def test_models_list_text_and_nothing_installed(sa, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = sa.run("--models-dir", str(empty), "models", "list")
    assert result.returncode == 0, result.stderr
    assert "not installed" in result.stdout and "models pull" in result.stderr


def test_models_uses_the_models_dir_setting(sa, tiny):
    """No flag: the models_dir setting (here from the environment) decides."""
    sa.set(models_dir=tiny)
    result = sa.run("models", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["models_dir"] == str(tiny)


def test_verify_passes_on_the_tiny_folder(sa, tiny):
    result = sa.run("models", "verify", "--json", "--models-dir", str(tiny), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"]
    checked = {Path(c["file"]).name for c in data["checks"]}
    assert {"model.pt", "speech_tokenizer_v1.onnx", "model-00002-of-00002.safetensors", "model.safetensors",
            "flow.pt", "hift.pt", "campplus.onnx", "tokenizer.model"} <= checked
    assert {c["part"] for c in data["checks"]} == {"tokenizer", "base", "bnb", "awq"}


def _damaged_copy(tiny: Path, dest: Path) -> Path:
    for name in ("Step-Audio-Tokenizer", "Step-Audio-EditX"):
        shutil.copytree(tiny / name, dest / name)
    return dest


def test_verify_names_each_damaged_file(sa, tiny, tmp_path):
    import torch

    root = _damaged_copy(tiny, tmp_path / "models")
    llm = root / "Step-Audio-EditX"
    (llm / "model-00002-of-00002.safetensors").unlink()                       # missing shard
    hift = llm / "CosyVoice-300M-25Hz" / "hift.pt"
    hift.write_bytes(hift.read_bytes()[: hift.stat().st_size // 2])            # truncated download
    flow = llm / "CosyVoice-300M-25Hz" / "flow.pt"
    state = torch.load(flow, weights_only=True)
    name = next(k for k, v in state.items() if v.ndim == 2)
    state[name] = torch.zeros(state[name].shape[0] + 1, state[name].shape[1])   # wrong shape
    torch.save(state, flow)

    listed = json.loads(sa.run("models", "--json", "--models-dir", str(root)).stdout)
    base = next(p for p in listed["parts"] if p["name"] == "base")
    assert not base["complete"] and base["missing"] == ["Step-Audio-EditX/model-00002-of-00002.safetensors"]

    result = sa.run("models", "verify", "base", "--models-dir", str(root), timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 3, result.stdout
    text = "\n".join(failed)
    assert "model-00002-of-00002.safetensors" in text and "lacks shard" in text
    assert "hift.pt: unreadable" in text
    assert f"flow.pt: 1 mis-shaped: {name}" in text
    assert result.stdout.count("fix: download it again: stepaudio models pull base") == 3
    assert "config.json: ok" in result.stdout          # the intact files still pass


def test_verify_names_a_misshaped_llm_tensor(tiny, tmp_path):
    """In-process (faster): a shard whose tensor has the wrong shape fails the contract by name."""
    from safetensors.torch import load_file, save_file

    from stepaudio_engine.verify import verify

    root = _damaged_copy(tiny, tmp_path / "models")
    shard = root / "Step-Audio-EditX" / "model-00001-of-00002.safetensors"
    tensors = load_file(shard)
    name = sorted(tensors)[0]
    tensors[name] = tensors[name][..., :-1].contiguous()
    save_file(tensors, shard, metadata={"format": "pt"})
    checks = list(verify(root, ["base"]))
    failed = [c for c in checks if not c.ok]
    assert len(failed) == 1 and failed[0].file.endswith("model.safetensors.index.json")
    assert "tensor contract" in failed[0].message and name in failed[0].message and "wrong shape" in failed[0].message


def test_verify_unknown_part_and_empty_root(sa, tmp_path):
    result = sa.run("models", "verify", "nope", "--models-dir", str(tmp_path))
    assert result.returncode == 2 and "unknown model part" in result.stderr
    result = sa.run("models", "verify", "--models-dir", str(tmp_path))
    assert result.returncode == 1 and "no models installed" in result.stderr
