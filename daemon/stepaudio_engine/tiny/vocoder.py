"""Tiny vocoder folder in the released layout: `<llm_folder>/CosyVoice-300M-25Hz/`
(docs/engine/models.md#vocoder-folder).

Writes cosyvoice.yaml (HyperPyYAML-style, tiny values), flow.pt and hift.pt (state dicts of our own modules at
tiny sizes, random weights from a fixed seed) and campplus.onnx (a small ONNX graph with the released I/O
contract: (1, T, 80) float32 → (1, 192)). Deterministic for a seed; about 1 MB; output audio is noise.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..vocoder.config import (
    CFMConfig, DiTConfig, EncoderConfig, FlowConfig, HiftConfig, MelConfig, VocoderConfig, render_yaml,
)

FOLDER_NAME = "CosyVoice-300M-25Hz"


def tiny_config() -> VocoderConfig:
    """Released structure at tiny widths; mel (80 bins, 24 kHz) and HiFT rates (480 samples/frame) unchanged."""
    flow = FlowConfig(
        input_size=64, output_size=80, spk_embed_dim=192, vocab_size=5121,
        encoder=EncoderConfig(input_size=64, output_size=64, num_blocks=1, num_up_blocks=1,
                              attention_heads=2, linear_units=128),
        estimator=DiTConfig(in_channels=320, out_channels=80, mlp_ratio=2.0, depth=2, num_heads=2,
                            head_dim=32, hidden_size=64),
        cfm=CFMConfig(),
    )
    hift = HiftConfig(base_channels=32, f0_cond_channels=32)
    return VocoderConfig(mel=MelConfig(), flow=flow, hift=hift)


def _flow_state(cfg: FlowConfig) -> dict:
    import torch

    from ..vocoder.flow import FlowModel

    model = FlowModel(cfg)
    with torch.no_grad():
        # upstream's DiT zero-initialises adaLN and the output layer; ours uses default init, which is already
        # non-zero, but keep the modulation small so the 10 Euler steps stay tame
        for name, p in model.named_parameters():
            if "adaLN_modulation" in name:
                p.mul_(0.5)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def _hift_state(cfg: HiftConfig) -> dict:
    import torch

    from ..vocoder.hift import HiFTGenerator

    model = HiFTGenerator(cfg)
    with torch.no_grad():
        # a positive f0 bias so some frames are voiced and the harmonic source is exercised
        model.f0_predictor.classifier.bias.fill_(120.0)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def _campplus_onnx(path: Path, seed: int) -> None:
    """RMS-pool over time → MatMul(80×192) + bias → tanh; input (1, T, 80), output (1, 192)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed + 7)
    weight = rng.normal(0.0, 0.2, size=(80, 192)).astype(np.float32)
    bias = rng.normal(0.0, 0.1, size=(192,)).astype(np.float32)
    nodes = [
        helper.make_node("Mul", ["input", "input"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["ms"], axes=[1], keepdims=0),
        helper.make_node("Sqrt", ["ms"], ["rms"]),
        helper.make_node("MatMul", ["rms", "w"], ["proj"]),
        helper.make_node("Add", ["proj", "b"], ["pre"]),
        helper.make_node("Tanh", ["pre"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_campplus",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", "T", 80])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["B", 192])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="stepaudio-tiny")
    model.ir_version = 8  # readable by older onnxruntime builds too
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def write_tiny_vocoder(llm_folder: Path, seed: int = 0) -> Path:
    """Write `llm_folder/CosyVoice-300M-25Hz/` with tiny random weights; returns that folder."""
    import torch

    folder = Path(llm_folder) / FOLDER_NAME
    folder.mkdir(parents=True, exist_ok=True)
    cfg = tiny_config()
    (folder / "cosyvoice.yaml").write_text(render_yaml(cfg), encoding="utf-8")
    with torch.random.fork_rng(devices=[]):  # seed locally, leave the caller's RNG state alone
        torch.manual_seed(seed)
        flow_state = _flow_state(cfg.flow)
        hift_state = _hift_state(cfg.hift)
    torch.save(flow_state, folder / "flow.pt")
    torch.save(hift_state, folder / "hift.pt")
    _campplus_onnx(folder / "campplus.onnx", seed)
    return folder
