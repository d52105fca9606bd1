"""Loading the step1 LLM: the 291-tensor contract, strict errors by name, dtype/device, the three variants."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.llm import VARIANTS, load_llm, variant_folder
from stepaudio_engine.llm.config import read_config
from stepaudio_engine.llm.contract import expected_tensors
from stepaudio_engine.tiny.llm import TINY_CONFIG, write_tiny_llm

PROMPT = torch.tensor([[1, 4, 466, 78, 65537, 66570, 78, 65538, 3, 4, 467, 78]])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_llm(tmp_path_factory.mktemp("models"), seed=0)


@pytest.fixture(scope="module")
def base_logits(tiny: dict[str, Path]) -> torch.Tensor:
    llm = load_llm(tiny["base"], "base", "cpu", "fp32")
    with torch.inference_mode():
        return llm.model(PROMPT).float()


def test_contract_of_the_released_config_lists_291_tensors(released_files: Path) -> None:
    config, _ = read_config(released_files)
    tensors = expected_tensors(config)
    assert len(tensors) == 291
    assert tensors["model.embed_tokens.weight"] == (74752, 3072)
    assert tensors["lm_head.weight"] == (74752, 3072)
    assert tensors["model.layers.31.self_attn.k_proj.weight"] == (256, 3072)
    assert tensors["model.layers.0.mlp.down_proj.weight"] == (3072, 8192)
    params = sum(torch.Size(s).numel() for s in tensors.values())
    assert 3.52e9 < params < 3.54e9        # docs/engine/llm.md#configuration: about 3.53 B


def test_variant_folders() -> None:
    assert variant_folder(Path("/m"), "awq") == Path("/m/Step-Audio-EditX-AWQ-4bit")
    assert [v.folder for v in VARIANTS.values()] == ["Step-Audio-EditX", "Step-Audio-EditX-bnb-4bit",
                                                   "Step-Audio-EditX-AWQ-4bit"]
    with pytest.raises(EngineError) as err:
        variant_folder(Path("/m"), "gguf")
    assert err.value.reason is Reason.BAD_INPUT


def test_tiny_writer_is_deterministic_and_uses_the_real_names(tmp_path: Path, tiny: dict[str, Path]) -> None:
    again = write_tiny_llm(tmp_path, seed=0)
    for shard in sorted(tiny["base"].glob("*.safetensors")):
        assert (again["base"] / shard.name).read_bytes() == shard.read_bytes()
    index = json.loads((tiny["base"] / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(expected_tensors(TINY_CONFIG))
    assert len(set(index["weight_map"].values())) == 2


def test_base_loads_fp32_and_bf16_and_reports_memory(tiny: dict[str, Path], base_logits: torch.Tensor) -> None:
    llm = load_llm(tiny["base"], "base", "cpu", "fp32")
    assert llm.dtype == torch.float32 and llm.device.type == "cpu" and llm.variant == "base"
    n_params = sum(torch.Size(s).numel() for s in expected_tensors(TINY_CONFIG).values())
    assert llm.memory_bytes() == 4 * n_params
    half = load_llm(tiny["base"], "base", "cpu", "bf16")
    assert half.memory_bytes() == 2 * n_params
    with torch.inference_mode():
        low = half.model(PROMPT).float()
    assert torch.nn.functional.cosine_similarity(low.flatten(), base_logits.flatten(), dim=0) > 0.999
    assert llm.to("cpu") is llm


def _copy(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest)
    return dest


def _rewrite_shard(folder: Path, change) -> None:
    shard = folder / "model-00002-of-00002.safetensors"
    tensors = load_file(str(shard))
    change(tensors)
    save_file(tensors, str(shard))


def test_missing_tensor_is_named(tmp_path: Path, tiny: dict[str, Path]) -> None:
    folder = _copy(tiny["base"], tmp_path / "m")
    _rewrite_shard(folder, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(EngineError) as err:
        load_llm(folder, "base", "cpu", "fp32")
    assert err.value.reason is Reason.MODEL_CORRUPT
    assert "model.layers.1.mlp.up_proj.weight" in err.value.message


def test_unexpected_and_misshaped_tensors_are_named(tmp_path: Path, tiny: dict[str, Path]) -> None:
    folder = _copy(tiny["base"], tmp_path / "m")

    def change(t: dict) -> None:
        t["model.layers.1.self_attn.k_proj.weight"] = torch.zeros(7, 128, dtype=torch.bfloat16)
        t["model.layers.1.self_attn.rotary_emb.inv_freq"] = torch.zeros(8)

    _rewrite_shard(folder, change)
    index_path = folder / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"]["model.layers.1.self_attn.rotary_emb.inv_freq"] = "model-00002-of-00002.safetensors"
    index_path.write_text(json.dumps(index))
    with pytest.raises(EngineError) as err:
        load_llm(folder, "base", "cpu", "fp32")
    message = err.value.message
    assert "model.layers.1.self_attn.rotary_emb.inv_freq" in message
    assert "model.layers.1.self_attn.k_proj.weight: expected [32, 128], found [7, 128]" in message


def test_missing_files(tmp_path: Path, tiny: dict[str, Path]) -> None:
    folder = _copy(tiny["base"], tmp_path / "m")
    (folder / "model-00001-of-00002.safetensors").unlink()
    with pytest.raises(EngineError) as err:
        load_llm(folder, "base", "cpu", "fp32")
    assert err.value.reason is Reason.MODEL_MISSING and "model-00001-of-00002.safetensors" in err.value.message
    (folder / "config.json").unlink()
    with pytest.raises(EngineError) as err:
        load_llm(folder, "base", "cpu", "fp32")
    assert err.value.reason is Reason.MODEL_MISSING and "config.json" in err.value.message
    with pytest.raises(EngineError) as err:
        load_llm(tmp_path / "nowhere", "base", "cpu", "fp32")
    assert err.value.reason is Reason.MODEL_MISSING


def test_truncated_shard_is_corrupt(tmp_path: Path, tiny: dict[str, Path]) -> None:
    folder = _copy(tiny["base"], tmp_path / "m")
    shard = folder / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(EngineError) as err:
        load_llm(folder, "base", "cpu", "fp32")
    assert err.value.reason is Reason.MODEL_CORRUPT and shard.name in err.value.message


def test_bad_options(tiny: dict[str, Path]) -> None:
    with pytest.raises(EngineError) as err:
        load_llm(tiny["base"], "base", "cpu", "fp16x")
    assert err.value.reason is Reason.BAD_INPUT
    if not torch.cuda.is_available():
        with pytest.raises(EngineError) as err:
            load_llm(tiny["base"], "base", "cuda", "auto")
        assert err.value.reason is Reason.UNSUPPORTED


def test_awq_variant_on_cpu(tiny: dict[str, Path], base_logits: torch.Tensor) -> None:
    pytest.importorskip("compressed_tensors", reason="the awq variant needs compressed-tensors")
    llm = load_llm(tiny["awq"], "awq", "cpu", "fp32")
    base = load_llm(tiny["base"], "base", "cpu", "fp32")
    assert llm.memory_bytes() < base.memory_bytes()
    # our decompression against a hand-written int4 unpack: 8 values per int32, low nibble first, minus 8
    layer = llm.model.model.layers[0].mlp.down_proj
    packed = layer.weight_packed.to(torch.int64) & 0xFFFFFFFF
    nibbles = torch.stack([(packed >> (4 * i)) & 0xF for i in range(8)], dim=-1).reshape(packed.shape[0], -1)
    scale = layer.weight_scale.float().repeat_interleave(128, dim=1)
    manual = (nibbles - 8).float() * scale
    # the scales are bf16, and so is the product: int4 * scale rounded once to bf16
    torch.testing.assert_close(layer.dense_weight().float(), manual.to(torch.bfloat16).float(), atol=0, rtol=0)
    dense = base.model.model.layers[0].mlp.down_proj.weight
    assert (manual - dense).abs().max() <= scale.max() * 0.51   # int4 rounding error bound
    with torch.inference_mode():
        logits = llm.model(PROMPT).float()
    assert torch.nn.functional.cosine_similarity(logits.flatten(), base_logits.flatten(), dim=0) > 0.99
    _generates(llm)


def _generates(llm) -> None:
    from stepaudio_engine.llm.sampling import GenerationOptions, generate_detailed

    result = generate_detailed(llm, PROMPT[0].tolist(), GenerationOptions(seed=0, max_length=PROMPT.shape[1] + 4))
    assert 1 <= len(result.new_ids) <= 4


def test_awq_folder_without_quantization_config_is_rejected(tiny: dict[str, Path]) -> None:
    pytest.importorskip("compressed_tensors", reason="the awq variant needs compressed-tensors")
    with pytest.raises(EngineError) as err:
        load_llm(tiny["base"], "awq", "cpu", "fp32")
    assert err.value.reason is Reason.MODEL_CORRUPT and "quantization_config" in err.value.message


@pytest.mark.parametrize("source", ["bnb", "base"])   # pre-quantized folder, and quantizing at load
def test_bnb_variant_on_cpu(tiny: dict[str, Path], base_logits: torch.Tensor, source: str) -> None:
    pytest.importorskip("bitsandbytes", reason="the bnb variant needs bitsandbytes")
    llm = load_llm(tiny[source], "bnb", "cpu", "fp32")
    linear = llm.model.model.layers[0].self_attn.q_proj
    assert type(linear).__name__ == "Linear4bit" and linear.weight.quant_state.quant_type == "nf4"
    with torch.inference_mode():
        logits = llm.model(PROMPT).float()
    assert torch.nn.functional.cosine_similarity(logits.flatten(), base_logits.flatten(), dim=0) > 0.99
    _generates(llm)
    assert llm.memory_bytes() < load_llm(tiny["base"], "base", "cpu", "fp32").memory_bytes()


def test_bnb_missing_statistics_are_named(tmp_path: Path, tiny: dict[str, Path]) -> None:
    pytest.importorskip("bitsandbytes", reason="the bnb variant needs bitsandbytes")
    folder = _copy(tiny["bnb"], tmp_path / "b")
    tensors = load_file(str(folder / "model.safetensors"))
    tensors.pop("model.layers.0.mlp.gate_proj.weight.absmax")
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(EngineError) as err:
        load_llm(folder, "bnb", "cpu", "fp32")
    assert "model.layers.0.mlp.gate_proj.weight.absmax" in err.value.message


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["base", "bnb", "awq"])
def test_variants_on_cuda(tiny: dict[str, Path], base_logits: torch.Tensor, variant: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    llm = load_llm(tiny[variant], variant, "cuda", "auto")
    assert llm.dtype == torch.bfloat16 and torch.backends.cuda.matmul.allow_tf32
    with torch.inference_mode():
        logits = llm.model(PROMPT.cuda()).float().cpu()
    assert torch.nn.functional.cosine_similarity(logits.flatten(), base_logits.flatten(), dim=0) > 0.98
    llm.to("cpu")
    assert next(llm.model.parameters()).device.type == "cpu"
    llm.to("cuda")
    with torch.inference_mode():
        again = llm.model(PROMPT.cuda()).float().cpu()
    torch.testing.assert_close(again, logits, atol=1e-2, rtol=1e-2)


def test_awq_tolerates_a_zero_point_only_when_it_is_zero(tmp_path: Path, tiny: dict[str, Path]) -> None:
    pytest.importorskip("compressed_tensors", reason="the awq variant needs compressed-tensors")
    name = "model.layers.1.mlp.up_proj.weight_zero_point"
    for value, ok in ((0, True), (1, False)):
        folder = _copy(tiny["awq"], tmp_path / f"a{value}")
        _rewrite_shard(folder, lambda t: t.__setitem__(name, torch.full((32, 1), value, dtype=torch.int32)))
        index_path = folder / "model.safetensors.index.json"
        index = json.loads(index_path.read_text())
        index["weight_map"][name] = "model-00002-of-00002.safetensors"
        index_path.write_text(json.dumps(index))
        if ok:
            load_llm(folder, "awq", "cpu", "fp32")
        else:
            with pytest.raises(EngineError) as err:
                load_llm(folder, "awq", "cpu", "fp32")
            assert name in err.value.message


def test_every_variant_has_a_loader_and_the_loaders_import_no_loading() -> None:
    """loading.py chooses the loader from its table; loaders share llm/tensors.py and never import loading.py
    (no import circle)."""
    import importlib

    from stepaudio_engine.llm import loading

    assert set(loading.LOADERS) == set(VARIANTS)
    folder = Path(loading.__file__).parent
    for module, function in loading.LOADERS.values():
        assert callable(getattr(importlib.import_module(module, "stepaudio_engine.llm"), function))
        assert "from .loading" not in (folder / f"{module.lstrip('.')}.py").read_text()
