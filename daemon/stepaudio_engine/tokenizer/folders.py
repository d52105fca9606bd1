"""Find the files of the released `Step-Audio-Tokenizer/` folder and say clearly what is missing.

Layout (docs/engine/models.md#tokenizer-folder; UP:tokenizer.py `__init__`):

    Step-Audio-Tokenizer/
      linguistic_tokenizer.npy          vq02 k-means codebook, float32 (1024, 512)
      speech_tokenizer_v1.onnx          vq06 semantic tokenizer
      dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online/
        config.yaml  configuration.json  model.pt  am.mvn  tokens.json ...
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stepaudio_engine.api import EngineError, Reason

TOKENIZER_FOLDER = "Step-Audio-Tokenizer"
FUNASR_MODEL_ID = "dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online"
CODEBOOK_FILE = "linguistic_tokenizer.npy"
VQ06_FILE = "speech_tokenizer_v1.onnx"
PARAFORMER_FILES = ("config.yaml", "model.pt", "am.mvn")
TOKENIZER_REPO = "stepfun-ai/Step-Audio-Tokenizer"   # docs/engine/models.md#hugging-face-repositories
DOWNLOAD_HINT = (f"download the tokenizer: stepaudio models pull tokenizer (or huggingface-cli download "
                 f"{TOKENIZER_REPO} --local-dir <models>/{TOKENIZER_FOLDER})")


@dataclass(frozen=True)
class TokenizerFiles:
    root: Path                 # the Step-Audio-Tokenizer folder
    codebook: Path             # linguistic_tokenizer.npy
    vq06_onnx: Path            # speech_tokenizer_v1.onnx
    paraformer_dir: Path       # the FunASR Paraformer streaming folder
    paraformer_config: Path    # config.yaml
    paraformer_weights: Path   # model.pt
    paraformer_cmvn: Path      # am.mvn


def resolve_tokenizer_dir(path: Path) -> Path:
    """Accept either the Step-Audio-Tokenizer folder itself or the models root that contains it."""
    path = Path(path)
    if (path / TOKENIZER_FOLDER).is_dir() and not (path / CODEBOOK_FILE).exists():
        return path / TOKENIZER_FOLDER
    return path


def find_tokenizer_files(path: Path) -> TokenizerFiles:
    """Locate every file the dual tokenizer needs; raise MODEL_MISSING naming the first one absent."""
    root = resolve_tokenizer_dir(path)
    if not root.is_dir():
        raise EngineError(Reason.MODEL_MISSING, f"tokenizer folder not found: {root}", DOWNLOAD_HINT)
    para = root / FUNASR_MODEL_ID
    files = TokenizerFiles(
        root=root,
        codebook=root / CODEBOOK_FILE,
        vq06_onnx=root / VQ06_FILE,
        paraformer_dir=para,
        paraformer_config=para / "config.yaml",
        paraformer_weights=para / "model.pt",
        paraformer_cmvn=para / "am.mvn",
    )
    for needed in (files.codebook, files.vq06_onnx, files.paraformer_config, files.paraformer_weights,
                   files.paraformer_cmvn):
        if not needed.is_file():
            raise EngineError(Reason.MODEL_MISSING, f"tokenizer file missing: {needed}", DOWNLOAD_HINT)
    return files
