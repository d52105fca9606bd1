"""Daemon status and job results rendered for the UI: table rows and short Markdown, no Gradio."""
from __future__ import annotations

from typing import Any

from stepaudio_web.actions import JobOutcome

MODEL_COLUMNS = ["variant", "tier", "device", "RSS MiB", "VRAM MiB", "jobs", "idle s", "next", "keep-alive s"]
VOICE_COLUMNS = ["name", "transcript", "added"]
MIB = 1024 * 1024


def _next_step(v: Any) -> str:
    if not v.next_tier:
        return ""
    if v.next_tier_in_s < 0:
        return f"{v.next_tier} (never)"
    return f"{v.next_tier} in {v.next_tier_in_s:.0f} s"


def model_rows(status: Any) -> list[list[Any]]:
    """One row per variant the daemon knows, loaded or not."""
    rows = []
    for v in status.variants:
        busy = " (busy)" if v.running_job else ""
        rows.append([v.variant, v.tier + busy, v.device or "-", round(v.rss_bytes / MIB, 1),
                     round(v.vram_bytes / MIB, 1), v.jobs_served, round(v.idle_s, 1), _next_step(v),
                     v.keep_alive_s])
    return rows


def status_summary(status: Any) -> str:
    """The daemon line, the queue and the prompt cache, as Markdown."""
    lines = [f"**stepaudiod {status.daemon_version}** — pid {status.pid}, up {status.uptime_s:.0f} s, "
             f"daemon RSS {status.daemon_rss_bytes / MIB:.0f} MiB"]
    if status.queue:
        waiting = ", ".join(f"{q.position}. {q.kind} on {q.variant or 'default'} ({q.waited_s:.0f} s)"
                            for q in status.queue)
        lines.append(f"Queue ({len(status.queue)}/{status.queue_capacity}): {waiting}")
    else:
        lines.append(f"Queue: empty (room for {status.queue_capacity})")
    c = status.cache
    lines.append(f"Prompt cache: {c.entries} entries, {c.bytes / MIB:.1f} of {c.max_bytes / MIB:.0f} MiB, "
                 f"{c.hits} hits / {c.misses} misses")
    return "\n\n".join(lines)


def voice_rows(voices: list[dict]) -> list[list[Any]]:
    return [[v["name"], v["text"], v.get("added", "")] for v in voices]


def outcome_markdown(outcome: JobOutcome) -> str:
    """What a finished job reports: seed, length, time per stage, notes and check scores."""
    total = outcome.timings.get("total")
    parts = [f"**{outcome.duration_s:.2f} s of audio**" + (f" in {total:.1f} s" if total is not None else "")]
    if outcome.seed is not None:
        parts.append(f"seed {outcome.seed} (enter it again to repeat this result)")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in outcome.timings.items() if k != "total")
    if stages:
        parts.append(stages)
    quality = outcome.report.get("quality")
    if quality:
        parts.append("check: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in quality.items()))
    parts += [f"note: {n}" for n in outcome.notes]
    return "\n\n".join(parts)
