"""Vocoder: CosyVoice-300M-25Hz re-implemented (flow matching + HiFT) plus the CAM++ speaker embedding.

Modules: config (safe yaml + dataclasses), mel (prompt mel), fbank/speaker (CAM++ input and ONNX session),
flow_encoder, dit, cfm, flow, hift (torch modules that load the released checkpoints strictly), contract
(expected keys, explained loading), facade (the Vocoder class the pipeline uses). See docs/engine/vocoder.md.
"""
from .facade import PromptFeatures, Vocoder, VocodeTrace

__all__ = ["PromptFeatures", "Vocoder", "VocodeTrace"]
