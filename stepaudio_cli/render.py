"""What the CLI prints: progress on stderr (rich on a TTY, plain lines otherwise), results and
status on stdout. Status rendering is plain text on purpose: importing rich costs ~20 ms and
`stepaudio status` must stay close to bare Python start-up.
"""
from __future__ import annotations

import sys
import time


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_seconds(s: float) -> str:
    if s < 0:
        return "never"
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# stages that say where a job is among its parts ("pass 2 of 3", "chunk 4 of 12", "segment 1 of 3")
STEP_STAGES = ("iteration", "candidate", "chunk", "segment")


class ProgressView:
    """Shows a job's events. On a TTY: one rich status line with a bar; otherwise one plain line per
    stage change (never one per token: logs of batch runs stay readable)."""

    def __init__(self, label: str, quiet: bool = False) -> None:
        self.label = label
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and not quiet
        self.last_line = ""
        self.progress = None
        self.task = None
        self.stage = ""
        self.step = ""           # "pass 2 of 3" / "candidate 1 of 4": kept through the stages inside it
        self.started = time.monotonic()

    def _rich(self):
        if self.progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn
            from rich.text import Text

            started = self.started

            class TotalElapsed(ProgressColumn):
                """The whole job's clock (the bar restarts with each stage; this does not)."""

                def render(self, task) -> Text:
                    return Text(human_seconds(time.monotonic() - started), style="progress.elapsed")

            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.fields[extra]}"), TotalElapsed(),
                                     console=Console(stderr=True), transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=1.0, extra="")
        return self.progress

    def update(self, stage: str, fraction: float = -1.0, extra: str = "") -> None:
        if self.quiet:
            return
        if self.tty:
            p = self._rich()
            total = 1.0 if fraction >= 0 else None
            completed = fraction if fraction >= 0 else 0
            if stage in STEP_STAGES and extra:
                self.step, extra = extra, ""
            stage = f"{self.step}, {stage}" if self.step and stage not in STEP_STAGES \
                else (self.step or stage)
            if stage != self.stage:
                # a new stage: rich marks a task finished for good once it reaches 100 %, which froze the
                # spinner and the clock after loading; reset restarts both for each stage
                self.stage = stage
                p.reset(self.task, total=total, completed=completed, description=f"{self.label}: {stage}",
                        extra=extra)
            else:
                p.update(self.task, description=f"{self.label}: {stage}", extra=extra, completed=completed,
                         total=total)
            return
        # the position in the queue, "pass 2 of 3" and "chunk 4 of 12" are worth a line; token counts are not
        shown = extra and stage in ("queued", *STEP_STAGES)
        line = f"{self.label}: {stage}" + (f" ({extra})" if shown else "")
        if line != self.last_line:
            err(line)
            self.last_line = line

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def activity(health) -> str:
    """A HealthReply in words: what the daemon is doing right now."""
    if health.idle:
        return "idle, nothing loaded"
    return "idle, a model loaded" if health.no_jobs else "busy"


def print_json(data: object, file=None) -> None:
    import json

    print(json.dumps(data, indent=2, sort_keys=True, default=str), file=file or sys.stdout, flush=True)


NOT_RUNNING = "stepaudiod is not running; nothing is loaded"


def not_running_dict(socket: str) -> dict:
    """`status --json` without a daemon (docs/json.md): status never starts one."""
    return {"running": False, "message": NOT_RUNNING, "socket": socket}


def status_text(s: dict) -> str:
    """Render a status dict (see status_dict) as aligned plain text."""
    lines = [f"stepaudiod {s['daemon_version']} (protocol {s['protocol_version']}) · pid {s['pid']} · "
             f"up {human_seconds(s['uptime_s'])} · rss {human_bytes(s['daemon_rss_bytes'])}",
             f"socket {s['socket']}", f"log    {s['log_file']}", ""]
    rows = [("VARIANT", "TIER", "DEVICE", "PID", "RSS", "VRAM", "LOAD", "JOBS", "IDLE", "NEXT")]
    for v in s["variants"]:
        active = v["tier"] != "unloaded"
        nxt = f"{v['next_tier']} in {human_seconds(v['next_tier_in_s'])}" if v["next_tier"] else \
            ("running " + v["running_job"] if v["running_job"] else ("kept" if active else ""))
        rows.append((v["variant"], v["tier"], v["device"] or "-", str(v["worker_pid"] or "-"),
                     human_bytes(v["rss_bytes"]) if active else "-",
                     human_bytes(v["vram_bytes"]) if v["vram_bytes"] else "-",
                     human_seconds(v["load_time_s"]) if active else "-", str(v["jobs_served"]),
                     human_seconds(v["idle_s"]) if active and not v["running_job"] else "-", nxt))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines += [f"  {v['variant']}: LLM {v['bits']}-bit, {v['kernel']}" for v in s["variants"]
              if v.get("kernel")]
    queue = s["queue"]
    lines.append("")
    lines.append(f"queue  {len(queue)} of {s['queue_capacity']}" +
                 "".join(f"\n  {q['position']}. {q['job_id']} {q['kind']} ({q['variant']}), waiting "
                         f"{human_seconds(q['waited_s'])}" for q in queue))
    c = s["cache"]
    lines.append(f"cache  {c['hits']} hits, {c['misses']} misses, {c['entries']} entries, "
                 f"{human_bytes(c['bytes'])} of {human_bytes(c['max_bytes'])} ({c['path']})")
    if s["idle_shutdown_in_s"] >= 0:
        lines.append(f"idle   the daemon exits in {human_seconds(s['idle_shutdown_in_s'])} unless used")
    lines.append("")
    lines.append("settings")
    width = max(len(x["name"]) for x in s["settings"])
    lines += [f"  {x['name'].ljust(width)}  {x['value']}  ({x['source']})" for x in s["settings"]]
    return "\n".join(lines)
