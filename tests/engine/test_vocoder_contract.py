"""Loading contract: expected keys at the released config, strict loading with named problems."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.vocoder.config import FlowConfig, HiftConfig, load_config
from stepaudio_engine.vocoder.contract import flow_parameters, hift_parameters, load_module
from stepaudio_engine.vocoder.flow import FlowModel
from stepaudio_engine.vocoder.hift import HiFTGenerator


def test_released_flow_contract() -> None:
    shapes = flow_parameters(FlowConfig())
    assert len(shapes) == 605  # docs/engine/vocoder.md#state-dicts (SWIFT reports 605)
    assert shapes["input_embedding.embedding.weight"] == (5121, 256)
    assert shapes["spk_embed_affine_layer.weight"] == (80, 192)
    assert shapes["encoder.pre_lookahead_layer.conv1.weight"] == (512, 512, 4)
    assert shapes["encoder.encoders.5.self_attn.pos_bias_u"] == (8, 64)
    assert shapes["encoder.up_encoders.3.self_attn.linear_pos.weight"] == (512, 512)
    assert "encoder.up_encoders.3.self_attn.linear_pos.bias" not in shapes
    assert shapes["encoder.up_layer.conv.weight"] == (512, 512, 5)
    assert shapes["decoder.estimator.in_proj.weight"] == (512, 320)
    assert shapes["decoder.estimator.blocks.15.adaLN_modulation.1.weight"] == (4608, 512)
    assert shapes["decoder.estimator.blocks.0.conv.block.3.weight"] == (512,)
    assert shapes["decoder.estimator.blocks.0.conv.block.6.weight"] == (512, 512, 3)
    assert shapes["decoder.estimator.blocks.0.attn.q_norm.weight"] == (64,)
    assert shapes["decoder.estimator.final_layer.linear.weight"] == (80, 512)
    assert sum(k.startswith("decoder.estimator.") for k in shapes) == 394


def test_released_hift_contract() -> None:
    shapes = hift_parameters(HiftConfig())
    assert len(shapes) == 328  # docs/engine/vocoder.md#state-dicts
    assert sum(k.endswith("original0") for k in shapes) == 82  # 328 - 82 = 246 after folding weight norm
    assert shapes["conv_pre.parametrizations.weight.original1"] == (512, 80, 7)
    assert shapes["ups.0.parametrizations.weight.original0"] == (512, 1, 1)  # ConvTranspose: g over inputs
    assert shapes["ups.2.parametrizations.weight.original1"] == (128, 64, 7)
    assert shapes["source_downs.0.weight"] == (256, 18, 30)
    assert shapes["source_downs.2.weight"] == (64, 18, 1)
    assert shapes["resblocks.8.convs1.2.parametrizations.weight.original1"] == (64, 64, 11)
    assert shapes["source_resblocks.2.activations2.0.alpha"] == (64,)
    assert shapes["conv_post.parametrizations.weight.original1"] == (18, 64, 7)
    assert shapes["f0_predictor.condnet.8.parametrizations.weight.original1"] == (512, 512, 3)
    assert shapes["f0_predictor.classifier.weight"] == (1, 512)
    assert shapes["m_source.l_linear.weight"] == (1, 9)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stepaudio_engine.tiny.vocoder import write_tiny_vocoder

    return write_tiny_vocoder(tmp_path_factory.mktemp("tinyvoc"), seed=0)


def _flow_factory(folder: Path):
    cfg = load_config(folder)
    return lambda: FlowModel(cfg.flow)


def test_tiny_checkpoints_load_strictly(tiny: Path) -> None:
    cfg = load_config(tiny)
    flow = load_module(lambda: FlowModel(cfg.flow), tiny / "flow.pt")
    hift = load_module(lambda: HiFTGenerator(cfg.hift), tiny / "hift.pt")
    saved = torch.load(tiny / "flow.pt", weights_only=True)
    for k, v in flow.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert set(hift.state_dict()) == set(torch.load(tiny / "hift.pt", weights_only=True))


def _broken(tiny: Path, tmp_path: Path, edit) -> Path:
    state = torch.load(tiny / "flow.pt", weights_only=True)
    edit(state)
    path = tmp_path / "flow.pt"
    torch.save(state, path)
    return path


def test_missing_key_is_named(tiny: Path, tmp_path: Path) -> None:
    path = _broken(tiny, tmp_path, lambda s: s.pop("encoder.after_norm.bias"))
    with pytest.raises(EngineError) as err:
        load_module(_flow_factory(tiny), path)
    assert err.value.reason == Reason.MODEL_CORRUPT
    assert "1 missing: encoder.after_norm.bias" in err.value.message


def test_unexpected_key_is_named(tiny: Path, tmp_path: Path) -> None:
    path = _broken(tiny, tmp_path, lambda s: s.__setitem__("decoder.rand_noise", torch.zeros(1, 80, 4)))
    with pytest.raises(EngineError) as err:
        load_module(_flow_factory(tiny), path)
    assert "1 unexpected: decoder.rand_noise" in err.value.message


def test_misshaped_key_is_named(tiny: Path, tmp_path: Path) -> None:
    path = _broken(tiny, tmp_path, lambda s: s.__setitem__("encoder_proj.weight", torch.zeros(80, 3)))
    with pytest.raises(EngineError) as err:
        load_module(_flow_factory(tiny), path)
    assert "mis-shaped: encoder_proj.weight (80, 3) (expected (80, 64))" in err.value.message


def test_tiny_hift_against_released_config_lists_problems(tiny: Path) -> None:
    with pytest.raises(EngineError) as err:
        load_module(lambda: HiFTGenerator(HiftConfig()), tiny / "hift.pt")
    assert err.value.reason == Reason.MODEL_CORRUPT and "mis-shaped" in err.value.message


def test_missing_and_unreadable_files(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        load_module(_flow_factory(tiny), tmp_path / "flow.pt")
    assert err.value.reason == Reason.MODEL_MISSING and "flow.pt" in err.value.message
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(EngineError) as err:
        load_module(_flow_factory(tiny), tmp_path / "junk.pt")
    assert err.value.reason == Reason.MODEL_CORRUPT


class _NotATensor:
    pass


def test_pickled_objects_are_refused(tiny: Path, tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"x": _NotATensor()}, path)
    with pytest.raises(EngineError) as err:  # weights_only=True refuses to build arbitrary objects
        load_module(_flow_factory(tiny), path)
    assert err.value.reason == Reason.MODEL_CORRUPT


def test_legacy_weight_norm_keys_are_accepted(tiny: Path, tmp_path: Path) -> None:
    cfg = load_config(tiny)
    state = torch.load(tiny / "hift.pt", weights_only=True)
    legacy = {k.replace(".parametrizations.weight.original0", ".weight_g")
               .replace(".parametrizations.weight.original1", ".weight_v"): v for k, v in state.items()}
    assert any(k.endswith(".weight_g") for k in legacy)
    torch.save(legacy, tmp_path / "hift.pt")
    model = load_module(lambda: HiFTGenerator(cfg.hift), tmp_path / "hift.pt")
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
