"""The dual audio tokenizer (vq02 linguistic + vq06 semantic codes),
docs/engine/tokenizer.md#upstream-facts-we-rely-on-with-sources

Modules: folders (file discovery), fbank (Kaldi fbank, LFR, CMVN), sanm (Paraformer streaming encoder),
vq02 (chunk loop + k-means), vq06 (whisper log-mel + ONNX), interleave (2:3 merge, offsets), dual (the facade).
Importing this package is cheap; torch/onnxruntime load when a DualTokenizer is built.
"""
from stepaudio_engine.tokenizer.dual import AudioTokens, DualTokenizer, TokenizeTrace

__all__ = ["AudioTokens", "DualTokenizer", "TokenizeTrace"]
