"""Audio into the HTTP server: uploads staged in a private folder and checked; response formats.

Uploads (base64 / data URL in JSON, or multipart files) are written to a fresh 0700 folder inside the
0700 runtime dir (the CLI's own scratch folder), checked for length, and handed to the daemon by that
path; the folder goes when the request ends. The server never opens a path that a client names.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

from stepaudio_protos.errors import Reason
from stepaudio_serve.errors import ApiError, bad_request

# OpenAI's response formats -> media type. The daemon writes each (stepaudio_protos/formats.py, with
# libsndfile); aac has no encoder there, and we do not ship ffmpeg.
RESPONSE_FORMATS: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",   # 24 kHz mono s16le, no header (as OpenAI's pcm)
}
OPENAI_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[\w.-]+)*;base64,", re.IGNORECASE)
_EXT_BY_MAGIC = ((b"RIFF", ".wav"), (b"RF64", ".wav"), (b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"ID3", ".mp3"),
                 (b"FORM", ".aiff"))


def check_response_format(fmt: str) -> str:
    if fmt == "aac":
        raise bad_request("response_format aac is not available: stepaudio writes audio with libsndfile, which "
                          "has no AAC encoder (and uses no ffmpeg)", "response_format",
                          "use mp3, opus, flac, wav or pcm", Reason.UNSUPPORTED)
    if fmt not in RESPONSE_FORMATS:
        raise bad_request(f"unknown response_format '{fmt}'", "response_format",
                          "formats: " + ", ".join(RESPONSE_FORMATS))
    return fmt


def media_type(fmt: str) -> str:
    return RESPONSE_FORMATS[fmt]


def decode_base64_audio(text: str, param: str) -> bytes:
    """Bytes of a base64 string or a data: URL. Any other URL is refused: the server fetches nothing."""
    text = text.strip()
    if re.match(r"^(https?|file|ftp)://", text, re.IGNORECASE) or text.startswith("/"):
        raise bad_request(f"{param} must carry the audio itself (base64 or a data: URL), not a URL or path",
                          param, "this server never fetches URLs nor opens paths a client names; "
                                 "send base64 of the file")
    match = _DATA_URL.match(text)
    if match:
        text = text[match.end():]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{param} is not valid base64", param, "send base64 of an audio file, or a data: URL") \
            from None
    if not data:
        raise bad_request(f"{param} is empty", param)
    return data


def stage(folder: Path, name: str, data: bytes) -> Path:
    """Write uploaded bytes into the private folder, named by their real container (never the client's
    file name)."""
    ext = next((e for magic, e in _EXT_BY_MAGIC if data.startswith(magic)), ".mp3" if _mpeg(data) else ".bin")
    path = folder / f"{name}{ext}"
    path.write_bytes(data)
    return path


def _mpeg(data: bytes) -> bool:
    return len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0


@dataclass
class AudioInfo:
    seconds: float
    sample_rate: int


def check_audio(path: Path, param: str, max_seconds: float) -> AudioInfo:
    """Readable audio no longer than the limit (header only; the engine decodes it for real)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError):
        raise bad_request(f"{param} is not audio this server can read", param,
                          "send WAV, FLAC, Ogg/Opus or MP3") from None
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if seconds > max_seconds:
        raise ApiError.of(Reason.TOO_LARGE, f"{param} is {seconds:.1f} s long; the limit is {max_seconds:g} s", param,
                       "send a shorter recording (a 3-10 s reference clones best), or raise http_max_audio_s")
    return AudioInfo(seconds, info.samplerate)
