"""`stepaudio doctor`: check the installation, one line per check with a fix for anything wrong.

This process stays light (no torch, numpy or engine imports): package versions come from
importlib.metadata, torch/CUDA facts from a short subprocess, memory from psutil, GPUs from nvidia-smi.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from stepaudio_protos.settings import LoadedSettings

from stepaudio_cli.options import flag
from stepaudio_cli.render import activity, err, human_bytes, print_json
from stepaudio_protos.errors import Exit

PASS, WARN, FAIL = "pass", "warn", "fail"

# The packages themselves are listed once, in pyproject.toml, and read here from the installed metadata
# (declared_packages). These are the ones a working install can do without, and what each is for.
OPTIONAL_PACKAGES = {"huggingface_hub": "`stepaudio models pull`",
                     "bitsandbytes": "the bnb variant", "compressed-tensors": "the awq variant"}
LOW_MEMORY = 8 * 1024**3      # below this much free RAM even a 4-bit variant is tight (docs/engine/models.md#variants)
LOW_DISK = 2 * 1024**3        # the prompt cache alone may use cache_max_mb (1 GiB by default)

TORCH_PROBE = """
import json, torch
facts = {"torch": torch.__version__, "cuda_build": torch.version.cuda, "cuda": torch.cuda.is_available(),
         "devices": [], "threads": torch.get_num_threads()}
if facts["cuda"]:
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        facts["devices"].append({"name": p.name, "memory": p.total_memory, "bf16": torch.cuda.is_bf16_supported()})
try:
    from stepaudio_engine.llm.cpu_fast import missing_support
    from stepaudio_engine.vocoder.facade import flow_bf16_wanted
    facts["cpu_llm_missing"], facts["cpu_bf16"] = missing_support(), flow_bf16_wanted("auto")
except Exception as exc:
    facts["cpu_llm_missing"], facts["cpu_bf16"] = f"the engine cannot be imported: {exc}", False
print(json.dumps(facts))
"""


@dataclass
class Check:
    name: str
    status: str        # pass | warn | fail
    detail: str
    fix: str = ""


def _version(package: str) -> Optional[str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def check_python() -> list[Check]:
    v = sys.version_info
    ok = v >= (3, 10)
    return [Check("python", PASS if ok else FAIL, f"{sys.version.split()[0]} at {sys.executable}",
                  "" if ok else "stepaudio needs Python 3.10 or newer")]


def declared_packages() -> dict[str, dict[str, str]]:
    """pyproject.toml's requirements as installed: group ("" = the core, "engine", "cpu", …) -> name -> the
    requirement as written (e.g. "torch==2.13.0"). Requirements for another Python version are left out."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        lines = requires("stepaudio") or []
    except PackageNotFoundError:
        return {}
    groups: dict[str, dict[str, str]] = {}
    for line in lines:
        spec, _, marker = (part.strip() for part in line.partition(";"))
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)", marker)
        if not extra and marker and not _python_marker_holds(marker):
            continue
        name = re.match(r"[A-Za-z0-9._-]+", spec)
        if name:
            groups.setdefault(extra.group(1) if extra else "", {})[name.group(0)] = spec
    return groups


def _python_marker_holds(marker: str) -> bool:
    """`python_version < "3.11"` and the like; any other marker counts as holding."""
    found = re.fullmatch(r"python_version\s*(<=|>=|<|>|==|!=)\s*[\"'](\d+)\.(\d+)[\"']", marker)
    if not found:
        return True
    op, wanted = found.group(1), (int(found.group(2)), int(found.group(3)))
    here = sys.version_info[:2]
    return {"<": here < wanted, "<=": here <= wanted, ">": here > wanted, ">=": here >= wanted,
            "==": here == wanted, "!=": here != wanted}[op]


def pinned_torch(groups: dict[str, dict[str, str]]) -> str:
    """The torch version the engine extra pins ("" when it pins none)."""
    spec = groups.get("engine", {}).get("torch", "")
    return spec.split("==", 1)[1].strip() if "==" in spec else ""


def check_packages() -> list[Check]:
    groups = declared_packages()
    if not groups:
        return [Check("packages", FAIL, "stepaudio is not installed as a package (no metadata found)",
                      "pip install -e '.[engine,cpu]' in the source folder")]
    checks = []
    for group, key, extra in (("cli", "", "stepaudio"), ("engine", "engine", "stepaudio[engine,cpu]")):
        names = [n for n in groups.get(key, {}) if n not in OPTIONAL_PACKAGES]
        found = {name: _version(name) for name in names}
        missing = [n for n, v in found.items() if v is None]
        listing = ", ".join(f"{n} {v}" for n, v in found.items() if v)
        checks.append(Check(f"packages ({group})", FAIL if missing else PASS,
                            listing + (f"; missing: {', '.join(missing)}" if missing else ""),
                            f"pip install '{extra}'" if missing else ""))
    torch, pinned = _version("torch"), pinned_torch(groups)
    if torch and pinned and torch.split("+")[0] != pinned:
        checks.append(Check("torch version", WARN, f"torch {torch}; stepaudio is tested with {pinned}",
                            f"pip install torch=={pinned}"))
    if _version("onnxruntime") and _version("onnxruntime-gpu"):
        checks.append(Check("onnxruntime", FAIL, "both onnxruntime and onnxruntime-gpu are installed; they clash",
                            "pip uninstall onnxruntime onnxruntime-gpu, then install one of them"))
    for name, use in OPTIONAL_PACKAGES.items():
        v = _version(name)
        checks.append(Check(f"optional {name}", PASS if v else WARN, v or f"not installed (needed for {use})",
                            "" if v else f"pip install {name}"))
    return checks


def check_torch(timeout: float = 120.0) -> tuple[list[Check], dict]:
    """Import torch in a subprocess (the CLI never imports it) and report the accelerator it sees."""
    try:
        proc = subprocess.run([sys.executable, "-c", TORCH_PROBE], capture_output=True, text=True, timeout=timeout)
        facts = json.loads(proc.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return [Check("torch", FAIL, f"importing torch took over {timeout:.0f} s", "check the installation")], {}
    except (IndexError, ValueError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [Check("torch", FAIL, f"torch cannot be imported: {tail}", "pip install 'stepaudio[engine,cpu]'")], {}
    if facts["cuda"]:
        gpus = "; ".join(f"{d['name']} {human_bytes(d['memory'])}{' bf16' if d['bf16'] else ''}"
                         for d in facts["devices"])
        return [Check("accelerator", PASS, f"CUDA {facts['cuda_build']}: {gpus}")], facts
    hint = "install a CUDA build of torch for speed" if facts["cuda_build"] is None else \
        "torch has CUDA but sees no GPU: check the driver (nvidia-smi)"
    return [Check("accelerator", WARN, f"torch {facts['torch']}: no CUDA GPU; models run on the CPU "
                                       f"({facts['threads']} threads), which is slow", hint),
            cpu_llm_check(facts)], facts


def cpu_llm_check(facts: dict) -> Check:
    """Which kernel and bits the LLM gets on this CPU (the engine's own load-time check, run in the probe)."""
    from stepaudio_protos.facts import CPU_LLM_BITS

    flow = "flow in bf16" if facts.get("cpu_bf16") else "flow in fp32 (no AVX512-BF16)"
    missing = facts.get("cpu_llm_missing", "")
    if not missing:
        bits = ", ".join(f"{v} {b}-bit" for v, b in CPU_LLM_BITS.items())
        return Check("LLM on CPU", PASS, f"onnxruntime MatMulNBits, int8 activations: {bits}; {flow}")
    return Check("LLM on CPU", WARN, f"fast path unavailable ({missing}): torch fp32, several times slower; {flow}",
                 "pip install 'stepaudio[cpu]' (onnxruntime) on a CPU with AVX2")


def check_memory() -> list[Check]:
    import psutil

    vm = psutil.virtual_memory()
    low = vm.available < LOW_MEMORY
    checks = [Check("memory", WARN if low else PASS,
                    f"{human_bytes(vm.available)} free of {human_bytes(vm.total)}",
                    "close other programs or use a 4-bit variant (--variant awq or bnb)" if low else "")]
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.used,memory.total,driver_version",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
            rows = [r.strip() for r in out.stdout.splitlines() if r.strip()]
            checks.append(Check("nvidia-smi", PASS if out.returncode == 0 else WARN,
                                "; ".join(rows) or out.stderr.strip()[:200],
                                "" if out.returncode == 0 else "the NVIDIA driver does not answer"))
        except (OSError, subprocess.TimeoutExpired) as exc:
            checks.append(Check("nvidia-smi", WARN, f"did not run: {exc}", "check the NVIDIA driver"))
    return checks


def check_models(root: Path, default_variant: str = "base") -> list[Check]:
    from stepaudio_cli.model_files import TOKENIZER, list_models

    parts = list_models(root)
    checks = []
    for p in parts:
        if p.complete:
            checks.append(Check(f"model {p.name}", PASS, f"{p.folder} ({human_bytes(p.size_bytes)}"
                                                         f"{f', {p.release} release' if p.release else ''}"
                                                         f"{', tiny test model' if p.tiny else ''})"))
        elif p.installed:
            checks.append(Check(f"model {p.name}", FAIL, f"{p.folder} is incomplete: missing "
                                + ", ".join(p.missing[:4]), f"stepaudio models pull {p.name}"
                                if p.name != "bnb" else "re-create the bnb folder (see README: Models)"))
    variants = [p for p in parts if p.name != TOKENIZER and p.complete]
    tokenizer = next(p for p in parts if p.name == TOKENIZER)
    if not variants or not tokenizer.installed:
        need = "a model variant" if not variants else "the tokenizer"
        checks.append(Check("models", FAIL, f"{need} is not installed in {root}", "stepaudio models pull base "
                            "(or set models_dir: stepaudio config set models_dir DIR)"))
    elif not _usable(default_variant, {p.name for p in variants}):
        # jobs without --variant use the default: a doctor that passes must mean `stepaudio clone` can run
        installed = ", ".join(sorted(p.name for p in variants))
        checks.append(Check("default variant", FAIL, f"the default variant '{default_variant}' is not installed "
                            f"in {root} (installed: {installed})", f"stepaudio models pull {default_variant}, or "
                            f"stepaudio config set default_variant {sorted(p.name for p in variants)[0]}"))
    return checks


def _usable(variant: str, complete: set[str]) -> bool:
    """bnb can also be quantised from the base folder at load time (README: Models and variants)."""
    return variant in complete or (variant == "bnb" and "base" in complete)


def check_daemon(ctx: typer.Context) -> list[Check]:
    from stepaudio_cli import daemon_proc
    from stepaudio_cli.errors import CliError
    from stepaudio_protos.paths import check_socket_path

    paths = ctx.obj.paths
    try:
        check_socket_path(paths.socket)
    except ValueError as exc:
        return [Check("socket", FAIL, str(exc), "set XDG_RUNTIME_DIR or STEPAUDIO_HOME to a shorter folder")]
    try:
        running = daemon_proc.peer_check(paths)
    except CliError as exc:
        return [Check("daemon", FAIL, exc.message, exc.hint)]
    if not running:
        return [Check("daemon", PASS, f"not running (it starts on demand); socket {paths.socket}")]
    ctx.obj.autostart = False
    try:
        h = ctx.obj.client().health_reply
    except CliError as exc:
        return [Check("daemon", FAIL, f"listening on {paths.socket} but unhealthy: {exc.message}",
                      exc.hint or "stepaudio daemon restart")]
    return [Check("daemon", PASS, f"stepaudiod {h.daemon_version} running, pid {h.pid}, up {h.uptime_s:.0f} s, "
                                  f"{activity(h)}; socket {paths.socket}")]


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(label: str, folder: Path, low: int = LOW_DISK) -> list[Check]:
    usage = shutil.disk_usage(_existing(folder))
    ok = usage.free >= low
    return [Check(f"disk ({label})", PASS if ok else WARN, f"{human_bytes(usage.free)} free for {folder}",
                  "" if ok else f"free some space on the disk holding {folder}")]


def check_settings() -> tuple[list[Check], Optional["LoadedSettings"]]:
    from stepaudio_protos.settings import SettingsError, load_settings

    try:
        loaded = load_settings()
    except SettingsError as exc:
        return [Check("settings", FAIL, str(exc), "fix it: stepaudio config show / stepaudio config set")], None
    return [Check("settings", PASS, f"read ({loaded.paths.config_file})")], loaded


def run_checks(ctx: typer.Context, with_torch: bool = True) -> list[Check]:
    checks = check_python() + check_packages()
    settings, loaded = check_settings()
    models_dir = loaded.effective_models_dir() if loaded is not None else None
    default_variant = loaded.settings.default_variant if loaded is not None else "base"
    checks += settings
    if with_torch:
        checks += check_torch()[0]
    checks += check_memory()
    root = Path(ctx.obj.models_dir).expanduser() if ctx.obj.models_dir else models_dir
    if root is not None:
        checks += check_models(root, default_variant)
        checks += check_disk("models", root)
    checks += check_daemon(ctx)
    checks += check_disk("cache", ctx.obj.paths.cache_dir)
    return checks


def doctor(
    ctx: typer.Context,
    json_out: bool = flag("--json", help="print as JSON"),
    no_torch: bool = flag("--no-torch", help="skip importing torch (faster)"),
) -> None:
    """Check the interpreter, packages, accelerator, memory, model folders, daemon and disk space; each line says
    pass, warn or fail with a fix. Exit code 1 if a check fails."""
    if not json_out:
        err("checking … (importing torch in a subprocess may take a few seconds)" if not no_torch else "checking …")
    checks = run_checks(ctx, with_torch=not no_torch)
    failed = [c for c in checks if c.status == FAIL]
    if json_out:
        print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{c.status:4}  {c.name.ljust(width)}  {c.detail}")
            if c.fix and c.status != PASS:
                print(f"      {''.ljust(width)}  fix: {c.fix}")
        warned = sum(c.status == WARN for c in checks)
        err(f"{len(checks) - len(failed) - warned} passed, {warned} warned, {len(failed)} failed")
    if failed:
        raise typer.Exit(Exit.FAILED)
