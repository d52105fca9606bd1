"""The released SentencePiece text tokenizer, encoding exactly like upstream's tokenizer call.

#loading, docs/engine/llm.md#text-tokenizer), i.e. a
Upstream encodes with transformers 4.53 `AutoTokenizer` -> `LlamaTokenizerFast` (docs/engine/llm.md
`tokenizers` Unigram model converted from tokenizer.model. We build the same thing ourselves from the
SentencePiece pieces (no transformers conversion, no remote code): Unigram with the pieces' scores and byte
fallback, a Metaspace pre-tokenizer that puts `▁` only before the text at the very start ("first") and does not
split, and every unknown/control/user-defined piece registered as a literal special token. This differs from
plain `SentencePieceProcessor.encode` in these measured ways: special pieces written in the text become their
ids (`a<|EOT|>b` -> [348, 3, 500]); no `▁` before text that follows a special piece (`<audio_1>⏎` -> [65537, 78]);
no extra `▁` when the text starts with a space; the order of pieces in some runs of spaces (ties).
On 2 000 random strings our ids equal transformers 4.53.3's (tests use the ids it produced).

transformers 5.x converts this tokenizer differently (and wrongly for Step's model), so it is not used.
`encode` prepends BOS (1) when tokenizer_config.json's `add_bos_token` is true or absent (the transformers
default; the reference copy has no such key, docs/engine/llm.md#text-tokenizer, `add_bos_token`).
"""
from __future__ import annotations

from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb2
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.release import read_config

MODEL_FILE = "tokenizer.model"

_LITERAL_TYPES = (sp_pb2.ModelProto.SentencePiece.UNKNOWN, sp_pb2.ModelProto.SentencePiece.CONTROL,
                  sp_pb2.ModelProto.SentencePiece.USER_DEFINED)


def _read_add_bos(folder: Path) -> bool:
    data = read_config(folder)
    return True if data is None else bool(data.get("add_bos_token", True))


def _read_proto(path: Path) -> sp_pb2.ModelProto:
    if not path.is_file():
        raise EngineError(Reason.MODEL_MISSING, f"{path} is missing", "download the model folder again")
    proto = sp_pb2.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path} is not a SentencePiece model: {exc}",
                          "download the model folder again") from exc
    if proto.trainer_spec.model_type != sp_pb2.TrainerSpec.UNIGRAM or not proto.pieces:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path} is not a SentencePiece Unigram model",
                          "download the model folder again")
    return proto


def _fast_tokenizer(proto: sp_pb2.ModelProto) -> Tokenizer:
    """The Unigram tokenizer transformers' LlamaConverter builds (legacy=False), made from the pieces."""
    vocab = [(p.piece, p.score) for p in proto.pieces]
    tok = Tokenizer(models.Unigram(vocab, unk_id=proto.trainer_spec.unk_id,
                                   byte_fallback=proto.trainer_spec.byte_fallback))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.add_special_tokens([AddedToken(p.piece, special=True, normalized=False)
                            for p in proto.pieces if p.type in _LITERAL_TYPES])
    return tok


class TextTokenizer:
    """encode(text) -> ids as upstream's `tokenizer.encode(text)`; ids of the released 74 752-piece vocabulary."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        proto = _read_proto(folder / MODEL_FILE)
        self.add_bos = _read_add_bos(folder)
        self.bos_id = proto.trainer_spec.bos_id if proto.trainer_spec.bos_id >= 0 else 1
        self.vocab_size = len(proto.pieces)
        self._fast = _fast_tokenizer(proto)
        self._sp = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())   # piece lookups, decode

    def piece_id(self, piece: str) -> int:
        return self._sp.piece_to_id(piece)

    def piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(token_id)

    def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
        """Ids of `text`; BOS first if the tokenizer config asks for it (or `add_bos` says so)."""
        ids = [self.bos_id] if (self.add_bos if add_bos is None else add_bos) else []
        return ids + list(self._fast.encode(text, add_special_tokens=False).ids) if text else ids

    def decode(self, ids: list[int]) -> str:
        """Text of `ids` (for logs and tests)."""
        return self._sp.decode(list(ids))
