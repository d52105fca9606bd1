"""The real engine whose LLM does not end an utterance: a test hook, used ONLY by tests (the runaway guard).

Selected with STEPAUDIO_ENGINE=runaway_engine:RunawayEngine (tests put tests/ on PYTHONPATH). After the real
load it adds a forward hook to the step1 output head that sets the <|EOT|> logit to -inf, so a generation
only stops at its token cap, as wrappers report of the released model on some inputs.
It needs the torch decode path (dtype fp32): the CPU fast path's onnxruntime head takes no hook.
RUNAWAY_CONTROL names a file holding N, read at the start of each job: the first N generations of the job
run away (-1 = all of them).
"""
from __future__ import annotations

import os

from stepaudio_engine.engine import Engine
from stepaudio_engine.llm.prompts import EOT_ID


class RunawayEngine(Engine):
    def load(self, options, progress) -> dict:
        info = super().load(options, progress)
        self.left = -1
        self.pipeline.llm.model.lm_head.register_forward_hook(self._no_end)
        speak = self.pipeline.speak

        def counted(*args, **kwargs):
            try:
                return speak(*args, **kwargs)
            finally:
                self.left = self.left - 1 if self.left > 0 else self.left
        self.pipeline.speak = counted
        return info

    def _no_end(self, module, inputs, output):
        if self.left != 0:
            output[..., EOT_ID] = float("-inf")
        return output

    def clone(self, req, progress, cancel):
        control = os.environ.get("RUNAWAY_CONTROL", "")
        self.left = int(open(control).read().strip()) if control and os.path.exists(control) else -1
        return super().clone(req, progress, cancel)
