"""Clone and edit, end to end: audio → tokens and prompt features → step1 → flow + HiFT → 24 kHz WAV.

The Pipeline owns the loaded parts (tokenizer, LLM, vocoder, prompt builder, cache) and knows the
order of the stages (docs/engine/audio.md#stages-of-a-job). Each call reports progress per stage, checks the cancel flag
between steps, and returns timings and the options in force.
"""
from __future__ import annotations

import io
import logging
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from stepaudio_engine import audio, segments, text_chunks
from stepaudio_engine.api import (AUDIO_STAGE, CancelToken, CloneRequest, EditRequest, EngineError, EngineResult,
                                  ProgressFn, Reason, TranscribeRequest)
from stepaudio_engine.checks import Candidate, best, checks_needed, score
from stepaudio_engine.joins import Stitcher
from stepaudio_engine.output_writer import OutputWriter, pcm_bytes
from stepaudio_engine.llm.languages import check_language, require_transcript, text_language, with_language_tag
from stepaudio_engine.llm.prompts import PromptBuilder, check_sound_tags, speaker_id_for, validate_edit
from stepaudio_engine.llm.sampling import GenerationOptions, generate_detailed
from stepaudio_engine.prompt_cache import PromptCache, PromptEntry, audio_key

log = logging.getLogger(__name__)

OUTPUT_RATE = 24000
ASR_RATE = 16000                  # the Paraformer ASR reads 16 kHz audio
MAX_INPUT_SECONDS = 30.0          # upstream handles one 30 s pass per input (docs/engine/tokenizer.md#vq06-chunks)
TOKENS_PER_SECOND = 41.67         # LLM audio ids per second of output (docs/engine/audio.md#input-length-and-rates)
MAX_TOTAL_IDS = 8192              # upstream max_length (docs/engine/llm.md#upstream-generation)
MAX_ITERATIONS = 10               # the CLI's --iterations range (stepaudio_protos.facts has the same)
MAX_CANDIDATES = 8                # --candidates range (stepaudio_protos.facts has the same)
SHORT_REFERENCE_S = 2.0           # below this a clone result notes that a longer reference clones better
# An input whose peak stays below -60 dBFS (±33 steps of 16-bit PCM) holds no audible voice. Upstream would
# still run (energy norm's 0.01 floor avoids a division by zero) and the model would invent a speaker, which
# is not what the user asked for: we refuse such input clearly instead.
SILENCE_PEAK = 1e-3
# Long text: chunk i is generated with seed + CHUNK_SEED_STRIDE * i (chunk 0 with the job's seed, so a one-chunk
# text is what it always was); candidate k adds k (k < MAX_CANDIDATES) and the retry of a chunk that ran to its
# token cap adds RETRY_SEED_OFFSET, so no two generations of a job share a seed.
CHUNK_SEED_STRIDE = 100
RETRY_SEED_OFFSET = 50


@dataclass
class Prepared:
    """One input recording, ready for a prompt: its tokens and vocoder features."""

    entry: PromptEntry
    cache: str                    # hit | miss | off
    seconds: float


@dataclass
class Stopwatch:
    timings: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, started: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + time.monotonic() - started


@dataclass
class Run:
    """One job's context, handed through the stages: where progress goes, its cancel flag, its timings and
    the report (transcripts, scores) it returns."""

    progress: ProgressFn
    cancel: CancelToken
    watch: Stopwatch = field(default_factory=Stopwatch)
    report: dict = field(default_factory=dict)


class Pipeline:
    def __init__(self, tokenizer, llm, vocoder, llm_folder: Path, cache: PromptCache, tiny: bool) -> None:
        self.tokenizer = tokenizer
        self.llm = llm
        self.vocoder = vocoder
        self.prompts = PromptBuilder(llm_folder)
        self.cache = cache
        self.tiny = tiny
        self._asr = None

    @property
    def asr(self):
        """The Paraformer ASR, built on first use; it shares the tokenizer's already loaded encoder."""
        if self._asr is None:
            from stepaudio_engine.asr import Transcriber

            self._asr = Transcriber.from_tokenizer(self.tokenizer)
        return self._asr

    # ---- the two jobs -----------------------------------------------------------------------
    def clone(self, req: CloneRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        _require_text(req.text, "text to speak")
        if not text_chunks.has_words(req.text):
            raise EngineError(Reason.BAD_INPUT, "the text to speak has only sound tags and punctuation, no words",
                              "give words to say; tags such as [Laughter] go between words")
        _check_candidates(req.candidates)
        _reject_control_tokens(req.text, "text to speak")
        _reject_control_tokens(req.ref_text, "reference text")
        if req.ref_text.strip():  # empty: the ASR transcribes the reference; given: it must hold words
            _require_text(req.ref_text, "reference text")
        else:
            require_transcript(req.language, "reference", "--ref-text")
        language = text_language(with_language_tag(req.text, req.language), req.language)  # checks a clash
        run = Run(progress, cancel)
        wav, sr = audio.load_audio(req.ref_audio, MAX_INPUT_SECONDS)
        _require_sound(wav, req.ref_audio, "reference audio")
        prepared = self.prepare(wav, sr, run)
        ref_text = req.ref_text
        if not ref_text.strip():
            ref_text = run.report["reference_transcript"] = self.transcript(wav, sr, run)
            _require_heard(ref_text, req.ref_audio, "--ref-text")
        speaker = speaker_id_for(ref_text, _raw_samples(req.ref_audio))
        seed = req.seed if req.seed is not None else secrets.randbits(31)
        chunks = text_chunks.plan(req.text)
        out = Emitter(req.output, req.format, req.sample_format, req.stream, len(chunks), run)
        infos, per_chunk = [], []
        try:
            for i, chunk in enumerate(chunks):
                run.cancel.check()
                if len(chunks) > 1:
                    run.progress("chunk", i / len(chunks), {"text": f"chunk {i + 1} of {len(chunks)}"})
                ids = self.prompts.clone_prompt(ref_text, prepared.entry.tokens.prompt_tokens,
                                                with_language_tag(chunk.text, language), speaker)
                cap = _clone_budget(chunk.text)
                part: dict = {}
                kept = self.generate_best(ids, cap, prepared, seed + CHUNK_SEED_STRIDE * i, chunk.text, req.check,
                                          req.candidates, run, part)
                out.add(kept.wav, chunk.pause_s)
                infos.append(_chunk_info(i, chunk, kept, cap, part))
                per_chunk.append(part)
            out.finish()
        except BaseException:
            out.abort()
            raise
        _merge_chunk_reports(run.report, per_chunk, infos)
        notes = [f"the reference is only {len(wav) / sr:.1f} s long: 3-10 s of clear speech clones a voice better"] \
            if len(wav) / sr < SHORT_REFERENCE_S else []
        notes += _runaway_notes(infos)
        stop = "max_length" if any(i["stop"] == "max_length" for i in infos) else "eos"
        return self.result(req.output, out.frames, run, seed, stop, [prepared.cache],
                           {"kind": "clone", "speaker_id": speaker,
                            "max_new_tokens": max(i["max_new_tokens"] for i in infos),
                            "format": out.format, "sample_format": out.sample_format,
                            "language": language, "release": self.prompts.release}, notes)

    def edit(self, req: EditRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        validate_edit(req.edit_type, req.edit_info)
        if not 1 <= req.iterations <= MAX_ITERATIONS:  # other clients than the CLI may send anything
            raise EngineError(Reason.BAD_INPUT, f"iterations must be 1 to {MAX_ITERATIONS}, not {req.iterations}",
                              "run edit again on its output for more passes")
        _check_candidates(req.candidates)
        _reject_control_tokens(req.audio_text, "transcript of the input audio")
        _reject_control_tokens(req.text, "paralinguistic text")
        if req.audio_text.strip():  # empty: the ASR transcribes the input; given: it must hold words
            _require_text(req.audio_text, "transcript of the input audio")
        elif req.edit_type not in ("denoise", "vad"):
            require_transcript(req.language, "input audio", "--text")
        check_language(req.language)
        if req.edit_type == "paralinguistic":
            check_sound_tags(req.text, self.prompts.release)  # before any audio work
        run = Run(progress, cancel)
        # one base seed for the whole run, pass i uses base + i: the reported seed reproduces every pass;
        # segment j of a long recording uses base + CHUNK_SEED_STRIDE * j
        seed = req.seed if req.seed is not None else secrets.randbits(31)
        wav, sr = audio.load_audio(req.input_audio, max(MAX_INPUT_SECONDS, req.max_seconds))
        _require_sound(wav, req.input_audio, "input audio")
        if len(wav) / sr <= MAX_INPUT_SECONDS:
            kept, caches = self._edit_passes(wav, sr, req.audio_text, req, seed, run, run.report, True)
            pieces, stop, notes = [kept.wav], kept.stop, []
        else:
            pieces, stop, caches, notes = self._edit_segments(wav, sr, req, seed, run)
        out = Emitter(req.output, req.format, req.sample_format, req.stream, len(pieces), run, trim=False)
        try:
            for piece in pieces:
                out.add(piece, 0.0)   # segments were cut at quiet points: a crossfade joins them
            out.finish()
        except BaseException:
            out.abort()
            raise
        if stop == "max_length":
            notes.append("the edit ran to its token cap twice (the model did not end it): its end may be "
                         "garbled; try another --seed")
        return self.result(req.output, out.frames, run, seed, stop, caches,
                           {"kind": "edit", "edit_type": req.edit_type, "edit_info": req.edit_info,
                            "iterations": req.iterations, "format": out.format,
                            "sample_format": out.sample_format, "release": self.prompts.release}, notes)

    def _edit_passes(self, wav: np.ndarray, sr: int, text: str, req: EditRequest, seed: int, run: Run,
                     report: dict, announce: bool) -> tuple[Candidate, list[str]]:
        """Every --iterations pass over one input of at most 30 s; returns the last pass's audio."""
        caches: list[str] = []
        passes = max(1, req.iterations)
        kept = Candidate(np.zeros(0, np.float32), seed, "")
        for i in range(passes):
            if announce or passes > 1:
                run.progress("iteration", i / passes, {"text": f"pass {i + 1} of {passes}"})
            if i > 0:  # the last pass's output as upstream re-reads it from its 16-bit WAV
                # (docs/engine/audio.md#iterative-editing), without a round trip through the output file
                wav, sr = _as_reread(kept.wav), OUTPUT_RATE
            prepared = self.prepare(wav, sr, run)
            if i == 0 and not text.strip() and req.edit_type not in ("denoise", "vad"):
                text = report["input_transcript"] = self.transcript(wav, sr, run)
                _require_heard(text, req.input_audio, "--text")
            ids = self.prompts.edit_prompt(text, prepared.entry.tokens.prompt_tokens, req.edit_type,
                                           req.edit_info, req.text)
            cap = _edit_budget(len(prepared.entry.tokens.prompt_tokens))
            last = i == passes - 1  # checks and candidates apply to the final pass
            target = req.text if req.edit_type == "paralinguistic" else text
            kept = self.generate_best(ids, cap, prepared, seed + i, target, req.check and last,
                                      req.candidates if last else 1, run, report)
            caches.append(prepared.cache)
            if req.edit_type == "paralinguistic":
                # from pass 2 the tagged text is the transcript (docs/engine/audio.md#iterative-editing)
                text = req.text
        return kept, caches

    def _edit_segments(self, wav: np.ndarray, sr: int, req: EditRequest, seed: int,
                       run: Run) -> tuple[list[np.ndarray], str, list[str], list[str]]:
        """A recording over 30 s: cut at quiet points (segments.py), each segment edited with every pass,
        a silent segment or one with no words heard passed through as it is."""
        if req.edit_type == "paralinguistic":
            raise EngineError(Reason.BAD_INPUT, f"the input is {len(wav) / sr:.0f} s long; paralinguistic edits "
                              f"take recordings of up to {MAX_INPUT_SECONDS:.0f} s",
                              "cut the recording around the place for the sound, edit that part, and join them")
        spans = segments.split_at_pauses(wav, sr)
        given = req.audio_text.strip()
        texts = segments.share_text(given, [segments.voiced_seconds(wav[a:b], sr) for a, b in spans]) \
            if given else [""] * len(spans)
        pieces, infos, caches, notes, stop = [], [], [], [], "eos"
        for j, (a, b) in enumerate(spans):
            run.cancel.check()
            run.progress("segment", j / len(spans), {"text": f"segment {j + 1} of {len(spans)}"})
            part, info = wav[a:b], {"index": j, "start_s": round(a / sr, 3), "end_s": round(b / sr, 3)}
            if given:
                info["text"] = texts[j]
            report: dict = {}
            edited = self._edit_segment(part, sr, texts[j], req, seed + CHUNK_SEED_STRIDE * j, run, report, info)
            if edited is None:
                pieces.append(_to_output_rate(part, sr))
                caches.append("off")
            else:
                kept, seg_caches = edited
                pieces.append(kept.wav)
                caches.extend(seg_caches)
                stop = "max_length" if kept.stop == "max_length" else stop
                info.update(seed=kept.seed, stop=kept.stop)
                info.update({k: v for k, v in report.items() if k in ("input_transcript", "quality", "candidates")})
            info["seconds"] = round(len(pieces[-1]) / OUTPUT_RATE, 4)
            infos.append(info)
        run.report["segments"] = infos
        skipped = [str(i["index"] + 1) for i in infos if i.get("skipped")]
        notes.append(f"the {len(wav) / sr:.0f} s input was edited in {len(spans)} segments cut at its quietest "
                     "points" + (", the transcript divided among them by their speech time (approximate)"
                                 if given else ""))
        if skipped:
            notes.append(f"segment {', '.join(skipped)} kept as it was (silent, or no words heard)")
        return pieces, stop, caches, notes

    def _edit_segment(self, part: np.ndarray, sr: int, text: str, req: EditRequest, seed: int, run: Run,
                      report: dict, info: dict):
        """One segment's passes, or None to keep it as it is (silent, or no words to edit)."""
        if float(np.max(np.abs(part))) < SILENCE_PEAK:
            info["skipped"] = "silent"
            return None
        needs_words = req.edit_type not in ("denoise", "vad")
        if needs_words and not text.strip():
            text = report["input_transcript"] = self.transcript(part, sr, run)
        if needs_words and not text_chunks.has_words(text):
            info["skipped"] = "no words heard"
            return None
        return self._edit_passes(part, sr, text, req, seed, run, report, False)

    def transcribe(self, req: TranscribeRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        run = Run(progress, cancel)
        wav, sr = audio.load_audio(req.audio, MAX_INPUT_SECONDS)
        text = self.transcript(wav, sr, run)
        return EngineResult(output="", sample_rate=sr, duration_s=len(wav) / sr, timings=run.watch.timings,
                            options={"kind": "transcribe"}, report={"transcript": text},
                            notes=self.result_notes(""))

    def transcript(self, wav: np.ndarray, sr: int, run: Run) -> str:
        """The ASR transcript of an input, cached with its prompt features."""
        started = time.monotonic()
        key = audio_key(wav, sr)
        text = self.cache.get_text(key)
        if text is None:
            run.progress("transcribing", -1.0, {})
            text = self._hear(wav, sr, run.cancel)
            self.cache.put_text(key, text)
        run.watch.add("transcribe", started)
        return text

    def _hear(self, wav: np.ndarray, sr: int, cancel: CancelToken) -> str:
        from stepaudio_engine.resample import resample

        return self.asr.transcribe(resample(wav, sr, ASR_RATE) if sr != ASR_RATE else wav, ASR_RATE, cancel).text

    def generate_best(self, ids: list[int], cap: int, prepared: Prepared, seed: int, target_text: str,
                      check: bool, candidates: int, run: Run, report: Optional[dict] = None) -> Candidate:
        """Generate `candidates` outputs (seeds seed, seed+1, …); with checks, score each and keep the best.
        Scores go into `report` (default: the job's)."""
        report = run.report if report is None else report
        check = checks_needed(check, candidates)
        made = []
        for k in range(max(1, candidates)):
            if candidates > 1:
                run.progress("candidate", k / candidates, {"text": f"candidate {k + 1} of {candidates}"})
            cand = self.speak_guarded(ids, cap, prepared, seed + k, run)
            if check:
                cand.scores = self.score(cand.wav, target_text, prepared, run)
            made.append(cand)
        kept = best(made)
        if check:
            report["quality"] = kept.scores.to_dict()  # type: ignore[union-attr]
        if candidates > 1:
            report["candidates"] = [dict(c.summary(), kept=c is kept) for c in made]
        return kept

    def speak_guarded(self, ids: list[int], cap: int, prepared: Prepared, seed: int, run: Run) -> Candidate:
        """Runaway guard: a generation that reaches its token cap never ended (no <|EOT|>) and usually
        babbles; it is tried once more with another seed. If that one runs away too it is kept, marked
        (stop "max_length", retried_from), and loses to any candidate that ended (checks.best)."""
        wav, _, stop = self.speak(ids, cap, prepared, seed, run)
        if stop != "max_length":
            return Candidate(wav, seed, stop)
        retry = seed + RETRY_SEED_OFFSET
        log.warning("generation with seed %d ran to its cap of %d tokens; retrying with seed %d", seed, cap, retry)
        run.progress("retrying", -1.0, {"text": f"no end after {cap} tokens; retrying with another seed"})
        wav, _, stop = self.speak(ids, cap, prepared, retry, run)
        cand = Candidate(wav, retry, stop)
        cand.retried_from = seed  # type: ignore[attr-defined]
        return cand

    def score(self, wav: np.ndarray, target_text: str, prepared: Prepared, run: Run):
        started = time.monotonic()
        run.progress("checking", -1.0, {})
        heard = self._hear(wav, OUTPUT_RATE, run.cancel)
        embedding = self.vocoder.prompt_features(wav, OUTPUT_RATE).embedding
        run.watch.add("check", started)
        return score(heard, target_text, prepared.entry.features.embedding, embedding)

    # ---- stages -----------------------------------------------------------------------------
    def prepare(self, wav: np.ndarray, sr: int, run: Run) -> Prepared:
        started = time.monotonic()
        run.progress("tokenizing", 0.0, {})
        key = audio_key(wav, sr)
        entry = self.cache.get(key)
        state = "off" if self.cache.folder is None else ("hit" if entry else "miss")
        if entry is None:
            tokens = self.tokenizer.tokenize(wav, sr, run.cancel)
            run.cancel.check()
            features = self.vocoder.prompt_features(wav, sr)
            entry = PromptEntry(tokens, features)
            self.cache.put(key, entry)
        run.progress("tokenizing", 1.0, {})
        run.watch.add("tokenize", started)
        return Prepared(entry, state, time.monotonic() - started)

    def speak(self, ids: list[int], cap: int, prepared: Prepared, seed: Optional[int],
              run: Run) -> tuple[np.ndarray, Optional[int], str]:
        started = time.monotonic()
        opts = GenerationOptions.for_release(self.prompts.release, seed=seed,
                                             max_length=min(MAX_TOTAL_IDS, len(ids) + cap))
        gen = generate_detailed(self.llm, ids, opts, run.progress, run.cancel)
        run.watch.add("generate", started)
        started = time.monotonic()
        if not gen.audio_tokens:
            raise EngineError(Reason.BAD_INPUT, "the model produced no audio for this input",
                              "try another --seed, or a longer text")
        run.progress("vocoding", 0.0, {})
        wav = self.vocoder.synthesize(gen.audio_tokens, prepared.entry.tokens.prompt_tokens,
                                      prepared.entry.features, run.cancel, run.progress, gen.seed)
        run.watch.add("vocode", started)
        return wav, gen.seed, gen.stop_reason

    def result(self, output: str, frames: int, run: Run, seed: Optional[int], stop: str,
               caches: list[str], options: dict, notes: Optional[list[str]] = None) -> EngineResult:
        """`caches`: the prompt-cache outcome of each pass (hit | miss | off): counted for the daemon's
        status, and shown comma-separated in options["prompt_cache"]."""
        return EngineResult(output=output, sample_rate=OUTPUT_RATE, duration_s=frames / OUTPUT_RATE,
                            timings=run.watch.timings,
                            options={**options, "seed": seed, "stop": stop, "prompt_cache": ",".join(caches)},
                            notes=(notes or []) + self.result_notes(stop), report=run.report,
                            prompt_cache_hits=caches.count("hit"), prompt_cache_misses=caches.count("miss"))

    def result_notes(self, stop: str) -> list[str]:
        notes = []
        if self.tiny:
            notes.append("tiny test model with random weights: the output is noise, not speech")
        return notes


class Emitter:
    """Where generated audio goes: joined chunk by chunk (joins.Stitcher), written to the output file as it
    comes (OutputWriter, so memory does not grow with the output), and, for streamed requests, handed out
    through progress(AUDIO_STAGE, ...)."""

    def __init__(self, path: str, fmt: str, sample_format: str, stream: bool, chunks: int, run: Run,
                 trim: Optional[bool] = None) -> None:
        self.writer = OutputWriter(path, fmt, sample_format, OUTPUT_RATE)
        self.format, self.sample_format = self.writer.format, self.writer.sample_format
        # one chunk: the model's audio untouched; several: edges trimmed unless the caller cut at pauses
        self.stitcher = Stitcher(OUTPUT_RATE, trim=chunks > 1 if trim is None else trim)
        self.stream, self.run = stream, run
        self.started = time.monotonic()
        self.pieces = 0

    @property
    def frames(self) -> int:
        return self.writer.frames

    def add(self, wav: np.ndarray, pause_after_s: float) -> None:
        self._out(self.stitcher.add(wav, pause_after_s))

    def finish(self) -> None:
        self._out(self.stitcher.finish())
        started = time.monotonic()
        self.writer.close()
        self.run.watch.add("write", started)

    def abort(self) -> None:
        self.writer.abort()

    def _out(self, samples: np.ndarray) -> None:
        if len(samples) == 0:
            return
        watch = self.run.watch
        watch.timings.setdefault("first_audio", time.monotonic() - self.started)
        started = time.monotonic()
        self.writer.write(samples)
        watch.add("write", started)
        if self.stream:
            encoding, pcm = pcm_bytes(samples, self.sample_format)
            self.run.progress(AUDIO_STAGE, -1.0, {"index": self.pieces, "rate": OUTPUT_RATE, "encoding": encoding,
                                                  "pcm": pcm})
        self.pieces += 1


def _to_output_rate(wav: np.ndarray, sr: int) -> np.ndarray:
    from stepaudio_engine.resample import resample

    return wav if sr == OUTPUT_RATE else resample(wav, sr, OUTPUT_RATE)


def _as_reread(wav: np.ndarray) -> np.ndarray:
    """The samples as a 16-bit WAV of `wav` decodes (what upstream's next edit pass reads), peak-capped as
    audio.load_audio does."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(wav, -1.0, 1.0), OUTPUT_RATE, subtype="PCM_16", format="WAV")
    buffer.seek(0)
    data, _ = sf.read(buffer, dtype="float32", always_2d=True)
    return audio.peak_cap(audio.to_mono(data))


def _chunk_info(i: int, chunk: text_chunks.Chunk, kept: Candidate, cap: int, report: dict) -> dict:
    info = {"index": i, "start": chunk.start, "end": chunk.end, "seconds": round(len(kept.wav) / OUTPUT_RATE, 4),
            "seed": kept.seed, "stop": kept.stop, "max_new_tokens": cap}
    if getattr(kept, "retried_from", None) is not None:
        info["retried_from_seed"] = kept.retried_from  # type: ignore[attr-defined]
    if "quality" in report:
        info["quality"] = report["quality"]
    return info


def _merge_chunk_reports(report: dict, per_chunk: list[dict], infos: list[dict]) -> None:
    """One chunk: its quality and candidates at the top as always. Several: each chunk's in report["chunks"]."""
    if len(infos) == 1:
        report.update(per_chunk[0])
    else:
        for info, part in zip(infos, per_chunk):
            if "candidates" in part:
                info["candidates"] = part["candidates"]
    report["chunks"] = infos


def _runaway_notes(infos: list[dict]) -> list[str]:
    bad = [i for i in infos if i["stop"] == "max_length"]
    if not bad:
        return []
    where = "the text" if len(infos) == 1 else "chunk " + ", ".join(str(i["index"] + 1) for i in bad)
    seeds = ", ".join(f"{i.get('retried_from_seed', i['seed'])} and {i['seed']}" for i in bad)
    return [f"{where} ran to the token cap twice (the model never ended it; seeds {seeds}): that audio may "
            "babble or be cut off; try another --seed"]


# `<...>` runs the tokenizer could map to one control piece (they are all of this shape,
# docs/engine/llm.md#text-tokenizer)
_ANGLE_TOKEN = re.compile(r"<[^<>\s]{1,64}>")
# C0 controls but tab, line feed and carriage return, DEL, and the C1 controls U+0080-U+009F (e.g. U+009B, the
# one-character CSI escape a terminal acts on just like ESC [)
_CONTROL_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _require_text(text: str, what: str) -> None:
    if not text or not text.strip():
        raise EngineError(Reason.BAD_INPUT, f"the {what} is empty", f"give the {what}")
    # letters (any script) or digits are what gets spoken; text of only punctuation, symbols or spaces
    # would leave the model nothing to say
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise EngineError(Reason.BAD_INPUT, f"the {what} has no words, only punctuation or symbols "
                          f"({text.strip()[:40]!r})", f"give the {what} as words")


def _require_heard(transcript: str, path: str, option: str) -> None:
    if not any(unicodedata.category(ch)[0] in "LN" for ch in transcript):
        raise EngineError(Reason.BAD_INPUT, f"the speech recogniser heard no words in {path}",
                          f"give its transcript with {option}")


def _check_candidates(n: int) -> None:
    if not 1 <= n <= MAX_CANDIDATES:
        raise EngineError(Reason.BAD_INPUT, f"candidates must be 1 to {MAX_CANDIDATES}, not {n}",
                          "each candidate is a full generation; a few are usually enough")


def _reject_control_tokens(text: str, what: str) -> None:
    """Text is spoken, never parsed as prompt structure: `<|EOT|>` or `<audio_5>` typed by a user would
    become control/audio tokens in the prompt (the tokenizer matches them as pieces), and control
    characters are never meant to be spoken."""
    if _CONTROL_CHAR.search(text or ""):
        raise EngineError(Reason.BAD_INPUT, f"the {what} contains control characters (e.g. NUL or escape codes)",
                          "remove them from the text")
    # every candidate, not only the first: "a <b> then <|EOT|>" must not slip through
    match = next((m for m in _ANGLE_TOKEN.finditer(text or "") if _is_special(m.group())), None)
    if match:
        raise EngineError(Reason.BAD_INPUT, f"the {what} contains {match.group()!r}, which is a control token "
                          "of the model, not text", "remove it or write it differently (e.g. with spaces)")


# the released vocabulary's literal pieces that are neither <|...|> nor <audio_N> (docs/engine/llm.md#text-tokenizer;
# tests/engine/test_text_guards.py checks this list against tokenizer.model)
_NAMED_SPECIALS = {"<s>", "</s>", "<unk>", "<im_patch>", "<im_start>", "<im_end>", "<dream>", "<dream_start>",
                   "<dream_end>", "<video_start>", "<video_end>", "<row_patch>", "<column_patch>", "<text_start>",
                   "<text_end>"}


def _is_special(piece: str) -> bool:
    return piece in _NAMED_SPECIALS or piece.startswith(("<|", "<audio_", "<user_defined_symbol_"))


def _require_sound(wav: np.ndarray, path: str, what: str) -> None:
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak < SILENCE_PEAK:
        level = "digital silence" if peak == 0.0 else f"peak {20 * np.log10(peak):.0f} dBFS"
        raise EngineError(Reason.BAD_INPUT, f"the {what} {path} is silent ({level}): there is no voice in it",
                          "use a recording in which the speaker is clearly audible")


def _clone_budget(text: str) -> int:
    """New-token cap for a clone: generous for the text (0.35 s per character + 5 s covers slow Chinese
    speech), so a model that never emits <|EOT|> cannot run to the 8192-id limit."""
    return int(TOKENS_PER_SECOND * (5.0 + 0.35 * len(text)))


def _edit_budget(input_tokens: int) -> int:
    """An edit says the same words: twice the input (slower speech, added sounds) plus 5 s."""
    return int(2 * input_tokens + 5 * TOKENS_PER_SECOND)


def _raw_samples(path: str) -> np.ndarray:
    """The decoded samples as upstream hashes them for the clone speaker id: float32 (channels, frames),
    before mono mixing and peak capping (docs/engine/audio.md#clone-voice-id)."""
    import soundfile as sf

    data, _ = sf.read(path, dtype="float32", always_2d=True)
    return data.T
