"""The released SentencePiece text tokenizer, encoding exactly like upstream's tokenizer call.

Upstream encodes with transformers 4.53 `AutoTokenizer` -> `LlamaTokenizerFast` (engine-spec §6.3-§6.4).
We use `sentencepiece` directly and reproduce the fast tokenizer's three differences from plain
`SentencePieceProcessor.encode` (all measured on the real tokenizer.model with transformers 4.53.3):
1. every unknown/control/user-defined piece (`<audio_N>`, `<|EOT|>`, `<s>`, ...) written in the text is matched
   literally and becomes its id (SentencePiece itself only matches user-defined pieces);
2. the `▁` dummy prefix goes only before the text at the very start of the string ("first" prepend scheme):
   text after a special piece gets none, so "<audio_1>⏎" -> [65537, 78], not [324, 65537, 78];
3. no prefix is added when the string already starts with a space (" a" -> [▁a], not [▁, ▁a]).
`encode` prepends BOS (1) when tokenizer_config.json's `add_bos_token` is true or absent (the transformers
default; the reference copy has no such key, engine-spec §6.4 "BOS conflict").
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb2

from stepaudio_engine.api import EngineError, Reason

MODEL_FILE = "tokenizer.model"
CONFIG_FILE = "tokenizer_config.json"

_LITERAL_TYPES = (sp_pb2.ModelProto.SentencePiece.UNKNOWN, sp_pb2.ModelProto.SentencePiece.CONTROL,
                  sp_pb2.ModelProto.SentencePiece.USER_DEFINED)


def _read_add_bos(folder: Path) -> bool:
    path = folder / CONFIG_FILE
    if not path.is_file():
        return True
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path} is not readable JSON: {exc}",
                          "download the model folder again") from exc
    return bool(data.get("add_bos_token", True))


class TextTokenizer:
    """encode(text) -> ids as upstream's `tokenizer.encode(text)`; ids of the released 74 752-piece vocabulary."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        path = folder / MODEL_FILE
        if not path.is_file():
            raise EngineError(Reason.MODEL_MISSING, f"{path} is missing", "download the model folder again")
        proto = sp_pb2.ModelProto()
        try:
            proto.ParseFromString(path.read_bytes())
        except Exception as exc:
            raise EngineError(Reason.MODEL_CORRUPT, f"{path} is not a SentencePiece model: {exc}",
                              "download the model folder again") from exc
        self.add_bos = _read_add_bos(folder)
        self.bos_id = proto.trainer_spec.bos_id if proto.trainer_spec.bos_id >= 0 else 1
        self.vocab_size = len(proto.pieces)
        self._literals = {p.piece: i for i, p in enumerate(proto.pieces) if p.type in _LITERAL_TYPES}
        # longest first, so that e.g. <audio_12> wins over a shorter piece that is its prefix
        alternatives = sorted(self._literals, key=len, reverse=True)
        self._literal_re = re.compile("|".join(re.escape(a) for a in alternatives)) if alternatives else None
        proto.normalizer_spec.add_dummy_prefix = False     # we add the prefix ourselves (rule 2 and 3)
        self._sp = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())

    def piece_id(self, piece: str) -> int:
        return self._sp.piece_to_id(piece)

    def piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(token_id)

    def encode(self, text: str, add_bos: bool | None = None) -> list[int]:
        """Ids of `text`; BOS first if the tokenizer config asks for it (or `add_bos` says so)."""
        ids = [self.bos_id] if (self.add_bos if add_bos is None else add_bos) else []
        pos = 0
        matches = self._literal_re.finditer(text) if self._literal_re is not None else ()
        for match in matches:
            ids += self._encode_plain(text[pos:match.start()], at_start=pos == 0)
            ids.append(self._literals[match.group()])
            pos = match.end()
        ids += self._encode_plain(text[pos:], at_start=pos == 0)
        return ids

    def _encode_plain(self, chunk: str, at_start: bool) -> list[int]:
        if not chunk:
            return []
        if at_start and not chunk.startswith(" "):
            chunk = " " + chunk       # the dummy prefix ▁ (escaped from a space by SentencePiece)
        return list(self._sp.encode(chunk))

    def decode(self, ids: list[int]) -> str:
        """Text of `ids` (for logs and tests), without the dummy-prefix space."""
        text = self._sp.decode(list(ids))
        return text[1:] if text.startswith(" ") else text
