"""Vocoder: CosyVoice-300M-25Hz re-implemented (flow matching + HiFT) plus the CAM++ speaker embedding.

Modules: config (safe yaml + dataclasses), mel (prompt mel), speaker (CAM++ input from ../kaldi_fbank.py and
the ONNX session), flow_encoder, dit, cfm, flow, hift, hift_noise (torch modules that load the released
checkpoints strictly, and HiFT's random draws), contract (expected keys, explained loading), weight_norm, facade
(the Vocoder class the pipeline uses). See docs/engine/vocoder.md.
"""
from .facade import PromptFeatures, Vocoder, VocodeTrace

__all__ = ["PromptFeatures", "Vocoder", "VocodeTrace"]
