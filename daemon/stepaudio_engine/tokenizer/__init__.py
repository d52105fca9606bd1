"""The dual audio tokenizer (vq02 linguistic + vq06 semantic codes); facts in docs/engine/tokenizer.md.

Modules: folders (file discovery), fbank (front-end options, LFR, CMVN; the Kaldi fbank itself is
../kaldi_fbank.py), sanm (Paraformer streaming encoder), sanm_batched (the same encoder over many calls at
once), vq02 (chunk loop + k-means), vq06 (whisper log-mel + ONNX), interleave (2:3 merge, offsets), dual (the
facade).
Importing this package is cheap; torch/onnxruntime load when a DualTokenizer is built.
"""
from stepaudio_engine.tokenizer.dual import AudioTokens, DualTokenizer, TokenizeTrace

__all__ = ["AudioTokens", "DualTokenizer", "TokenizeTrace"]
