"""Model and daemon management: status, load, unload, daemon start|stop|restart|status|logs."""
from __future__ import annotations

from typing import Optional

import typer

from stepaudio_cli import daemon_proc
from stepaudio_cli.errors import CliError
from stepaudio_cli.options import flag
from stepaudio_cli.render import (NOT_RUNNING, ProgressView, activity, err, not_running_dict, print_json,
                                  status_text)
from stepaudio_cli.service import install_service
from stepaudio_protos.errors import Exit
from stepaudio_protos.facts import VARIANTS

daemon_app = typer.Typer(help="Start, stop and inspect the stepaudiod daemon.", no_args_is_help=True)


def status(ctx: typer.Context, json_out: bool = flag("--json", help="print as JSON")) -> None:
    """Show what is loaded, on which device, memory, idle timers, queue, cache and settings.
    Never starts the daemon: without one it says so (nothing is loaded)."""
    from stepaudio_cli.messages import message_dict

    if not daemon_proc.peer_check(ctx.obj.paths):
        if json_out:
            print_json(not_running_dict(str(ctx.obj.paths.socket)))
        else:
            print(NOT_RUNNING)
        return
    ctx.obj.autostart = False  # a daemon of another version is still replaced when idle (client.connect)
    reply = message_dict(ctx.obj.client().status())
    if json_out:
        print_json(reply)
    else:
        print(status_text(reply))


def load(
    ctx: typer.Context,
    variant: Optional[str] = typer.Argument(None, metavar="VARIANT",
                                            help=" | ".join(VARIANTS) + " (default: the daemon's default)"),
    keep_alive: Optional[float] = typer.Option(None, "--keep-alive", help="seconds to keep it loaded when idle "
                                                                         "(negative = until unloaded)"),
    json_out: bool = flag("--json", help="print the result as JSON"),
) -> None:
    """Load a model variant now, so the next job starts at once."""
    import json

    from stepaudio_cli.client import iterate_events
    from stepaudio_cli.requests import check_variant, usage_error
    from stepaudio_protos import validate
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    request = pb.LoadRequest(variant=check_variant(variant))
    if keep_alive is not None:
        try:
            request.keep_alive_s = validate.keep_alive(keep_alive, "--keep-alive")
        except validate.Invalid as exc:
            raise usage_error(exc) from None
    call = ctx.obj.client().load(request)
    view = ProgressView(f"load {request.variant or 'default variant'}")
    try:
        for event in iterate_events(call):
            kind = event.WhichOneof("event")
            if kind == "progress":
                view.update(event.progress.stage, event.progress.fraction, event.progress.detail)
            elif kind == "queued" and event.queued.position > 0:
                view.update("queued", extra=f"position {event.queued.position}")
            elif kind == "failed":
                raise CliError.from_reason(event.failed.reason, event.failed.message, event.failed.hint)
            elif kind == "done":
                view.close()
                name = json.loads(event.done.options_json or "{}").get("variant") or request.variant
                seconds = event.done.timings.get("load", 0.0)
                if json_out:
                    print_json({"variant": name, "load_s": round(seconds, 4), "was_loaded": seconds == 0.0})
                err(f"{name} loaded in {seconds:.1f} s" if seconds else f"{name} was already loaded")
                return
    except KeyboardInterrupt:
        call.cancel()
        raise CliError("interrupted", "", Exit.INTERRUPTED) from None
    finally:
        view.close()


def unload(
    ctx: typer.Context,
    variant: Optional[str] = typer.Argument(None, metavar="VARIANT",
                                            help="variant to unload (default: the daemon's default)"),
    all_: bool = flag("--all", help="unload every variant"),
    to_cpu: bool = flag("--to-cpu", help="only move the weights to CPU RAM (fast to resume)"),
    force: bool = flag("--force", help="kill a busy worker now; its running job fails ('unloaded by request')"),
    json_out: bool = flag("--json", help="print what was unloaded as JSON"),
) -> None:
    """Give memory back now: end the variant's worker (or move its weights to CPU RAM)."""
    from stepaudio_cli.requests import check_variant

    if variant and all_:
        raise CliError("give a variant or --all, not both", "", Exit.USAGE)
    if force and to_cpu:
        raise CliError("--force does not go with --to-cpu", "--to-cpu waits for the job; --force kills it",
                       Exit.USAGE)
    variant = check_variant(variant)
    empty: dict[str, list[str]] = {"unloaded": [], "offloaded": [], "deferred": [], "stopped_jobs": []}
    if not daemon_proc.peer_check(ctx.obj.paths):
        if json_out:
            print_json({"daemon_running": False, **empty})
        err("the daemon is not running: nothing is loaded")
        return
    ctx.obj.autostart = False
    client = ctx.obj.client()
    reply = client.unload(variant, all_, to_cpu, force)
    if json_out:
        print_json({"daemon_running": True, "unloaded": list(reply.unloaded), "offloaded": list(reply.offloaded),
                    "deferred": list(reply.deferred), "stopped_jobs": list(reply.stopped_jobs)})
    for job_id in reply.stopped_jobs:
        err(f"job {job_id} was stopped (unloaded by request)")
    for name in reply.unloaded:
        err(f"{name}: unloaded")
    for name in reply.offloaded:
        err(f"{name}: moved to CPU RAM")
    for name in reply.deferred:
        err(f"{name}: busy; it will be {'offloaded' if to_cpu else 'unloaded'} when its job ends "
            "(--force stops the job now)")
    if not (reply.unloaded or reply.offloaded or reply.deferred):
        status = client.status()
        others = [f"{v.variant} ({v.tier})" for v in status.variants if v.tier != "unloaded"]
        if all_ or not others:
            err("nothing was loaded")
        else:
            default = next((x.value for x in status.settings if x.name == "default_variant"), "base")
            err(f"{variant or default} was not loaded; loaded now: {', '.join(others)} (name it, or use --all)")


@daemon_app.command("start")
def daemon_start(ctx: typer.Context) -> None:
    """Start the daemon in the background (commands also start it on demand)."""
    client = ctx.obj.client()
    h = client.health_reply
    err(f"stepaudiod {h.daemon_version} {'started' if client.started_daemon else 'is running'} (pid {h.pid}) "
        f"on {ctx.obj.paths.socket}")


@daemon_app.command("stop")
def daemon_stop(ctx: typer.Context) -> None:
    """Stop the daemon: running jobs are cancelled and every model is unloaded."""
    if not daemon_proc.peer_check(ctx.obj.paths):
        err("the daemon is not running")
        return
    ctx.obj.autostart = False
    ctx.obj.client().shutdown_and_wait()
    err("stepaudiod stopped")


@daemon_app.command("restart")
def daemon_restart(ctx: typer.Context) -> None:
    """Stop the daemon if it runs, then start it again (picks up new settings)."""
    if daemon_proc.peer_check(ctx.obj.paths):
        ctx.obj.autostart = False
        ctx.obj.client().shutdown_and_wait()
    ctx.obj.autostart = True
    daemon_start(ctx)


@daemon_app.command("status")
def daemon_status(ctx: typer.Context, json_out: bool = flag("--json", help="print as JSON")) -> None:
    """Is the daemon running? (Does not start it.) Exit code 3 if not."""
    if not daemon_proc.peer_check(ctx.obj.paths):
        if json_out:
            print_json({"running": False, "socket": str(ctx.obj.paths.socket)})
        else:
            print("stepaudiod is not running")
        raise typer.Exit(Exit.UNAVAILABLE)
    ctx.obj.autostart = False
    h = ctx.obj.client().health_reply
    if json_out:
        print_json({"running": True, "pid": h.pid, "version": h.daemon_version, "uptime_s": h.uptime_s,
                    "idle": h.idle, "busy": not h.no_jobs, "socket": str(ctx.obj.paths.socket)})
    else:
        print(f"stepaudiod {h.daemon_version} running (pid {h.pid}, up {h.uptime_s:.0f} s, {activity(h)}) "
              f"on {ctx.obj.paths.socket}")


@daemon_app.command("logs")
def daemon_logs(
    ctx: typer.Context,
    lines: int = typer.Option(50, "--lines", "-n", help="how many lines from the end"),
    path_only: bool = flag("--path", help="print the log file's path only"),
) -> None:
    """Print the end of the daemon's log."""
    log_file = ctx.obj.paths.log_file
    if path_only:
        print(log_file)
        return
    if not log_file.exists():
        raise CliError(f"no daemon log yet at {log_file}", "the daemon writes it when it starts")
    print("\n".join(log_file.read_text(errors="replace").splitlines()[-lines:]))


daemon_app.command("install-service")(install_service)
