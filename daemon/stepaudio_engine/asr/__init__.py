"""Paraformer ASR (transcription) on the released Step-Audio-Tokenizer folder.

Modules: files (locate and read model files), cif (CIF predictor), decoder (SAN-M decoder), text (token
post-processing), transcriber (the chunk loop and the public `Transcriber`). The encoder is the tokenizer's
`tokenizer/sanm.py`. Importing this package is cheap; torch loads when a Transcriber is built.
"""
from stepaudio_engine.asr.transcriber import AsrChunking, Transcriber, Transcript

__all__ = ["AsrChunking", "Transcriber", "Transcript"]
