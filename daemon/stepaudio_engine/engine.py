"""The Engine the worker process hosts (stepaudiod.worker_main): load, clone, edit, offload, resume.

It builds the Pipeline from a models folder for one variant and reports memory. Offloading moves the
torch parts to CPU RAM (the worker stays alive, so resuming skips reading weights from disk); on a
CPU-only machine it is a no-op.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional

from stepaudio_engine.api import (CancelToken, CloneRequest, EditRequest, EngineError, EngineResult,
                                  LoadOptions, ProgressFn, Reason, TranscribeRequest)

log = logging.getLogger(__name__)


class Engine:
    def __init__(self) -> None:
        self.pipeline = None
        self.options: Optional[LoadOptions] = None
        self.device = "cpu"

    # ---- life cycle -------------------------------------------------------------------------
    def load(self, options: LoadOptions, progress: ProgressFn) -> dict:
        import torch

        from stepaudio_engine.folders import find_model_folders
        from stepaudio_engine.llm import load_llm
        from stepaudio_engine.pipeline import Pipeline
        from stepaudio_engine.prompt_cache import PromptCache
        from stepaudio_engine.tokenizer import DualTokenizer
        from stepaudio_engine.vocoder import Vocoder

        if options.threads > 0:
            torch.set_num_threads(options.threads)
        folders = find_model_folders(options.models_dir, options.variant)
        started = time.monotonic()
        progress("llm", 0.0, {})
        # the fast CPU path's ONNX graphs are cached beside the prompt cache (built once per checkpoint)
        graphs = Path(options.cache_dir).parent / "llm-graphs" if options.cache_dir else None
        llm = load_llm(folders.llm, options.variant, options.device, options.dtype, graph_cache=graphs)
        self.device = str(llm.device.type)
        dtype = "bf16" if "bfloat16" in str(llm.dtype) and self.device == "cuda" else "fp32"
        progress("tokenizer", 0.5, {})
        tokenizer = DualTokenizer(folders.tokenizer, device=self.device, ort_threads=options.threads)
        progress("vocoder", 0.75, {})
        vocoder = Vocoder(folders.vocoder, device=self.device, dtype=dtype, ort_threads=options.threads,
                          flow_bf16=options.flow_bf16)
        cache = PromptCache(Path(options.cache_dir) if options.cache_dir else None, options.cache_max_bytes)
        self.pipeline = Pipeline(tokenizer, llm, vocoder, folders.llm, cache, folders.tiny)
        self.options = options
        progress("ready", 1.0, {})
        log.info("loaded %s from %s on %s in %.2f s", options.variant, folders.llm, self.device,
                 time.monotonic() - started)
        return {"device": self.device, "model_bytes": self.model_bytes(), "vram_bytes": _vram_bytes(),
                "folder": str(folders.llm), "tiny": folders.tiny, "llm_kernel": kernel_label(llm.kernel),
                "llm_bits": int(llm.kernel.get("bits", 0)), "flow_bf16": vocoder.flow_autocast}

    def offload(self) -> dict:
        p = self._loaded()
        if self.device == "cuda":
            p.llm.to("cpu")
            p.vocoder.to("cpu")
            _empty_cuda_cache()
        return {"device": "cpu", "vram_bytes": _vram_bytes()}

    def resume(self, progress: ProgressFn) -> dict:
        p = self._loaded()
        if self.device == "cuda":
            progress("moving weights back", -1.0, {})
            p.llm.to("cuda")
            p.vocoder.to("cuda")
        return {"device": self.device, "vram_bytes": _vram_bytes()}

    # ---- jobs -------------------------------------------------------------------------------
    def clone(self, req: CloneRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        return self._run(lambda p: p.clone(req, progress, cancel))

    def edit(self, req: EditRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        return self._run(lambda p: p.edit(req, progress, cancel))

    def transcribe(self, req: TranscribeRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        return self._run(lambda p: p.transcribe(req, progress, cancel))

    def _run(self, job) -> EngineResult:
        # out of memory is classified by the worker (api.error_from_exception), like every other failure
        result = job(self._loaded())
        result.options["variant"] = self.options.variant if self.options else ""
        result.options["device"] = self.device
        return result

    def model_bytes(self) -> int:
        p = self._loaded()
        return int(p.llm.memory_bytes() + p.vocoder.memory_bytes() + p.tokenizer.memory_bytes())

    def _loaded(self):
        if self.pipeline is None:
            raise EngineError(Reason.INTERNAL, "the engine is not loaded", "")
        return self.pipeline


def kernel_label(kernel: dict) -> str:
    """One line for status: 'onnxruntime MatMulNBits, int8 activations, 8-bit lm_head' (+ a fallback reason)."""
    text = f"{kernel.get('kernel', '?')}, {kernel.get('activations', '?')} activations, " \
           f"{kernel.get('head_bits', '?')}-bit lm_head"
    if kernel.get("fallback"):
        text += f" (fast CPU path unavailable: {kernel['fallback']})"
    return text


def _vram_bytes() -> int:
    import torch

    return int(torch.cuda.memory_reserved()) if torch.cuda.is_available() else 0


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
