"""Safe HyperPyYAML reader: tags become data, nothing is imported or executed."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.vocoder.config import (
    Tagged, VocoderConfig, load_config, read_hyperpyyaml, render_yaml,
)


def test_tags_are_inert_data(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"""
sample_rate: 24000
danger: !new:os.system
    command: touch {marker}
danger2: !apply:os.system ["touch {marker}"]
fn: !name:subprocess.call
rate_copy: !ref <sample_rate>
nested_ref: !ref <block.width>
expr: !ref <sample_rate> // 2
block:
    width: 7
"""
    data = read_hyperpyyaml(text)
    assert not marker.exists()
    assert isinstance(data["danger"], Tagged)
    assert data["danger"].kind == "new" and data["danger"].target == "os.system"
    assert data["danger"].value == {"command": f"touch {marker}"}
    assert data["danger2"].kind == "apply" and data["danger2"].value == [f"touch {marker}"]
    assert data["fn"].kind == "name" and data["fn"].target == "subprocess.call"
    assert data["rate_copy"] == 24000
    assert data["nested_ref"] == 7
    assert isinstance(data["expr"], Tagged)  # expressions are kept as data, never evaluated


def test_python_tags_are_refused(tmp_path: Path) -> None:
    # SafeLoader semantics: PyYAML's python/object tags have no constructor, so the file is refused
    marker = tmp_path / "pwned"
    text = f"x: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(yaml.YAMLError):
        read_hyperpyyaml(text)
    (tmp_path / "cosyvoice.yaml").write_text(text)
    with pytest.raises(EngineError) as err:
        load_config(tmp_path)
    assert err.value.reason == Reason.MODEL_CORRUPT
    assert not marker.exists()


def test_released_layout_round_trips_to_defaults() -> None:
    cfg = VocoderConfig()
    parsed = VocoderConfig.from_yaml_data(read_hyperpyyaml(render_yaml(cfg)))
    assert parsed == cfg
    assert parsed.hift.samples_per_frame == 480
    assert parsed.flow.estimator.depth == 16 and parsed.flow.cfm.inference_cfg_rate == 0.7


def test_reference_style_yaml_values(tmp_path: Path) -> None:
    # the shape of the reconstructed upstream file: !new: classes, cfm_params namespace, istft_params
    text = render_yaml(VocoderConfig(), class_prefix="somewhere.else").replace("inference_cfg_rate: 0.7",
                                                                                "inference_cfg_rate: 0.5")
    (tmp_path / "cosyvoice.yaml").write_text(text)
    cfg = load_config(tmp_path)
    assert cfg.flow.cfm.inference_cfg_rate == 0.5
    assert cfg.hift.istft_n_fft == 16 and cfg.hift.istft_hop == 4 and cfg.hift.f0_cond_channels == 512
    assert cfg.mel.n_fft == 1920 and cfg.mel.fmax == 8000.0


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        load_config(tmp_path)
    assert err.value.reason == Reason.MODEL_MISSING and "cosyvoice.yaml" in err.value.message
    (tmp_path / "cosyvoice.yaml").write_text("flow: [unclosed\n")
    with pytest.raises(EngineError) as err:
        load_config(tmp_path)
    assert err.value.reason == Reason.MODEL_CORRUPT


def test_cfg_rate_directly_under_decoder() -> None:
    # upstream's CausalConditionalCFM(estimator, inference_cfg_rate) takes the rate as a direct argument
    text = """
flow: !new:x.CausalMaskedDiffWithXvec
    decoder: !new:x.CausalConditionalCFM
        inference_cfg_rate: 0.3
        estimator: !new:x.DiT
            depth: 3
"""
    cfg = VocoderConfig.from_yaml_data(read_hyperpyyaml(text))
    assert cfg.flow.cfm.inference_cfg_rate == 0.3 and cfg.flow.estimator.depth == 3
    assert cfg.flow.estimator.hidden_size == 512  # missing keys keep the released defaults
