"""`stepaudio models` list and verify on the tiny model folder and on damaged copies of it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stepaudio_cli import model_files


@pytest.fixture(scope="module")
def tiny(tiny_models) -> Path:
    return tiny_models


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
    # the released repositories, and none for bnb on either side
    assert model_files.HF_REPOS == {**{k: v.hf_repo for k, v in VARIANTS.items() if v.hf_repo},
                                    "tokenizer": tok.TOKENIZER_REPO}
    assert VARIANTS["bnb"].hf_repo == "" and "bnb" not in model_files.HF_REPOS


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


# ---- pull, against a fake hub on 127.0.0.1 (tests/hub_server.py) ---------------------------------------------

SHARD = "model-00001-of-00002.safetensors"   # 19 MB in the tiny folder: more than one 10 MiB download chunk


@pytest.fixture
def hub(tiny, sa, tmp_path):
    from hub_server import FakeHub

    repos = {"stepfun-ai/Step-Audio-EditX": tiny / "Step-Audio-EditX",
             "stepfun-ai/Step-Audio-Tokenizer": tiny / "Step-Audio-Tokenizer"}
    with FakeHub(repos) as server:
        for key in [k for k in sa.env if k.lower().endswith("_proxy")]:
            del sa.env[key]
        sa.env.update(HF_ENDPOINT=server.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1",
                      NO_PROXY="127.0.0.1")
        sa.env.pop("HF_HUB_OFFLINE", None)
        sa.env.pop("HF_TOKEN", None)
        yield server


def _same_tree(a: Path, b: Path) -> None:
    assert _files_under(a) == {f for f in _files_under(b) if not f.startswith(".cache/")}
    for rel in _files_under(a):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_pull_downloads_the_variant_and_the_tokenizer(sa, tiny, hub, tmp_path):
    root = tmp_path / "models"
    result = sa.run("models", "pull", "--models-dir", str(root), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(root / "Step-Audio-Tokenizer"), str(root / "Step-Audio-EditX")]
    assert "base: complete" in result.stderr
    _same_tree(tiny / "Step-Audio-EditX", root / "Step-Audio-EditX")
    _same_tree(tiny / "Step-Audio-Tokenizer", root / "Step-Audio-Tokenizer")
    resolved = [r for r in hub.requests if "/resolve/" in r.path and r.method == "GET"]
    assert len(resolved) == \
        len(_files_under(tiny / "Step-Audio-EditX")) + len(_files_under(tiny / "Step-Audio-Tokenizer"))

    hub.requests.clear()
    again = sa.run("models", "pull", "--models-dir", str(root), timeout=120)   # nothing new to fetch
    assert again.returncode == 0, again.stderr
    assert not [r for r in hub.requests if "/resolve/" in r.path and r.method == "GET"]
    listed = json.loads(sa.run("models", "--json", "--models-dir", str(root)).stdout)
    assert {p["name"]: p["complete"] for p in listed["parts"]} == \
        {"tokenizer": True, "base": True, "bnb": False, "awq": False}


def test_pull_resumes_across_runs_and_keeps_finished_files(sa, tiny, hub, tmp_path):
    """Run 1: the shard's connection drops after 12 MB and every retry meets a server error, so the pull
    fails with a hint, keeping the 12 MB in a .part file. Run 2: files finished in run 1 are not fetched
    again and the shard continues at byte 12 000 000; its connection drops once more after 5 MB and the
    retry continues at 17 000 000; the result is intact."""
    from stepaudio_cli.hub_download import MAX_ATTEMPTS, PARTIAL_DIR

    root = tmp_path / "models"
    llm = root / "Step-Audio-EditX"
    hub.faults[SHARD] = [12_000_000] + [500] * (MAX_ATTEMPTS - 1)
    failed = sa.run("models", "pull", "--no-tokenizer", "--models-dir", str(root), timeout=120)
    assert failed.returncode == 1, failed.stderr
    assert "downloading stepfun-ai/Step-Audio-EditX failed" in failed.stderr and "HTTP 500" in failed.stderr
    assert "hint: run the same command again: finished files are kept and partial ones continue" in failed.stderr
    assert not (llm / SHARD).exists()
    assert (llm / PARTIAL_DIR / (SHARD + ".part")).stat().st_size == 12_000_000
    finished = {f for f in _files_under(llm) if not f.startswith(PARTIAL_DIR)}
    assert finished  # the files listed before the shard

    hub.requests.clear()
    hub.faults[SHARD] = [5_000_000]
    result = sa.run("models", "pull", "--no-tokenizer", "--models-dir", str(root), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"fetching {SHARD} (" in result.stderr and "continuing at" in result.stderr
    fetched = {r.path.split("/resolve/")[1].split("/", 1)[1] for r in hub.requests
               if "/resolve/" in r.path and r.method == "GET"}
    assert SHARD in fetched and not fetched & finished
    shard_gets = [r for r in hub.requests if r.path.endswith(SHARD) and r.method == "GET"]
    assert [r.range for r in shard_gets] == ["bytes=12000000-", "bytes=17000000-"]
    _same_tree(tiny / "Step-Audio-EditX", llm)
    assert not (llm / PARTIAL_DIR).exists()
    assert not (root / "Step-Audio-Tokenizer").exists()


def test_pull_checks_each_weight_file_against_the_hubs_sha256(sa, tiny, hub, tmp_path):
    """A partial file whose bytes are not the hub's (a disk error, a changed file) is caught by the SHA-256
    the hub lists for LFS files: deleted, reported, and fetched whole on the next run."""
    from stepaudio_cli.hub_download import PARTIAL_DIR

    root = tmp_path / "models"
    llm = root / "Step-Audio-EditX"
    size = (tiny / "Step-Audio-EditX" / SHARD).stat().st_size
    part = llm / PARTIAL_DIR / (SHARD + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * size)  # full length, wrong bytes: nothing left to fetch, so only the hash can tell
    failed = sa.run("models", "pull", "--no-tokenizer", "--models-dir", str(root), timeout=120)
    assert failed.returncode == 1, failed.stderr
    assert f"{SHARD}: SHA-256" in failed.stderr and "the partial file was deleted" in failed.stderr
    assert not part.exists() and not (llm / SHARD).exists()
    again = sa.run("models", "pull", "--no-tokenizer", "--models-dir", str(root), timeout=120)
    assert again.returncode == 0, again.stderr
    _same_tree(tiny / "Step-Audio-EditX", llm)


def test_pull_errors_name_the_problem(sa, hub, tmp_path):
    result = sa.run("models", "pull", "bnb", "--models-dir", str(tmp_path))
    assert result.returncode == 1 and "cannot be downloaded" in result.stderr
    result = sa.run("models", "pull", "nope", "--models-dir", str(tmp_path))
    assert result.returncode == 2 and "unknown model part" in result.stderr
    # the fake hub has no AWQ repository: the hub's 404 becomes a clear error
    result = sa.run("models", "pull", "awq", "--no-tokenizer", "--models-dir", str(tmp_path), timeout=60)
    assert result.returncode == 1, result.stderr
    assert "stepfun-ai/Step-Audio-EditX-AWQ-4bit" in result.stderr and "hint:" in result.stderr


def test_verify_reads_the_released_config_tokenizer_and_codebook(tmp_path, released_files):
    """The released (not tiny) small files pass their checks; the absent weights fail by name."""
    from stepaudio_engine.verify import check_llm, check_tokenizer

    llm = tmp_path / "Step-Audio-EditX"
    tok = tmp_path / "Step-Audio-Tokenizer"
    llm.mkdir()
    tok.mkdir()
    for name in ("config.json", "tokenizer.model", "tokenizer_config.json"):
        (llm / name).symlink_to(released_files / name)
    (tok / "linguistic_tokenizer.npy").symlink_to(released_files / "linguistic_tokenizer.npy")

    checks = {Path(c.file).name: c for c in check_llm(tmp_path, "base")}
    assert checks["config.json"].ok and "32 layers" in checks["config.json"].message
    assert checks["tokenizer.model"].ok and "74752 pieces" in checks["tokenizer.model"].message
    assert checks["tokenizer_config.json"].ok
    assert not checks["model.safetensors"].ok
    assert "no model.safetensors.index.json" in checks["model.safetensors"].message

    checks = {Path(c.file).name: c for c in check_tokenizer(tmp_path)}
    # without model.pt the encoder width is unknown: the codebook is checked for rank only
    assert checks["linguistic_tokenizer.npy"].ok and "(1024, 512)" in checks["linguistic_tokenizer.npy"].message
    assert checks["model.pt"].message == "missing"
