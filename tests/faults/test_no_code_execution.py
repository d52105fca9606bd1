"""Security (issue 8, item 5): loading a model never runs code from the model folder, and no process of
the daemon opens a network socket.

Copies of the tiny folder get planted payloads that would each create a marker file if anything
imported, unpickled or YAML-constructed them; the load through the daemon must then either fail
clearly (MODEL_CORRUPT naming the file) or succeed, and no marker may ever appear."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch

from faults.fault_tools import assert_daemon_healthy, assert_no_workers, load_outcome, overlay, own

LLM = "Step-Audio-EditX"
VOCODER = f"{LLM}/CosyVoice-300M-25Hz"


class _Payload:
    """Pickles as a call of os.system: unpickling it (weights_only=False) would create the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _python_payload(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('imported')\n"


def _markers(real) -> Path:
    folder = real.root / "markers"
    folder.mkdir(exist_ok=True)
    return folder


def test_planted_python_files_auto_map_and_yaml_tags_are_never_run(real):
    markers = _markers(real)
    models = overlay(real.models_source, real.root / "models")
    llm = models / LLM
    for name in ("modeling_step1.py", "configuration_step1.py", "custom_code.py", "__init__.py",
                 "tokenization_step1.py"):
        (llm / name).write_text(_python_payload(markers / name))
    for name in ("config.json", "tokenizer_config.json"):
        data = json.loads(own(llm / name).read_text())
        data["auto_map"] = {"AutoConfig": "configuration_step1.Step1Config",
                            "AutoModelForCausalLM": "modeling_step1.Step1ForCausalLM",
                            "AutoTokenizer": ["custom_code.Tokenizer", None]}
        (llm / name).write_text(json.dumps(data))
    yaml = own(models / VOCODER / "cosyvoice.yaml")
    yaml.write_text(yaml.read_text() + f"\nplanted: !new:os.system\n    command: touch {markers / 'yaml-new'}\n"
                    f"planted_name: !name:os.system\n")
    real.set(models_dir=models)

    outcome = load_outcome(real)
    assert outcome == {"event": "done"}, outcome  # none of it is read: `!new:` tags stay inert data
    clone = real.run(*real.clone_args("a.wav", "hello"), timeout=300)
    assert clone.returncode == 0, clone.stderr
    assert list(markers.iterdir()) == []
    assert_daemon_healthy(real)


def test_pickle_payload_in_a_weights_file_is_refused(real):
    markers = _markers(real)
    models = overlay(real.models_source, real.root / "models")
    flow = models / VOCODER / "flow.pt"
    flow.unlink()
    torch.save({"weight": _Payload(markers / "pickle")}, flow)
    real.set(models_dir=models)
    daemon = real.status()["pid"]

    outcome = load_outcome(real)
    assert outcome["event"] == "failed" and outcome["reason"] == "MODEL_CORRUPT", outcome
    assert str(flow) in outcome["message"] and "system" in outcome["message"]
    assert "weights_only" not in outcome["message"]
    assert list(markers.iterdir()) == []
    assert_no_workers(real)
    assert_daemon_healthy(real, daemon)


def test_python_yaml_tag_in_cosyvoice_yaml_is_refused(real):
    markers = _markers(real)
    models = overlay(real.models_source, real.root / "models")
    yaml = own(models / VOCODER / "cosyvoice.yaml")
    yaml.write_text(yaml.read_text() + f"\nplanted: !!python/object/apply:os.system ['touch {markers / 'yaml'}']\n")
    real.set(models_dir=models)

    outcome = load_outcome(real)
    assert outcome["event"] == "failed" and outcome["reason"] == "MODEL_CORRUPT", outcome
    assert str(yaml) in outcome["message"] and "python/object/apply" in outcome["message"]
    assert list(markers.iterdir()) == []
    assert_daemon_healthy(real)


# ---- no network ---------------------------------------------------------------------------------------------

def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _table_inodes(pid: int, tables: tuple[str, ...]) -> set[str]:
    """Inode column of /proc/<pid>/net/<table> (the process's network namespace)."""
    found = set()
    for table in tables:
        try:
            with open(f"/proc/{pid}/net/{table}") as fh:
                lines = fh.readlines()[1:]
        except FileNotFoundError:
            continue
        column = 9 if table != "unix" else 6
        found.update(line.split()[column] for line in lines if len(line.split()) > column)
    return found


INET = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6")


def _inet_sockets(pid: int) -> set[str]:
    return _socket_inodes(pid) & _table_inodes(pid, INET)


def test_the_inode_check_sees_a_tcp_listener():
    """The check below can fail: a listening TCP socket of this very process is found."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert _inet_sockets(os.getpid())


def test_daemon_and_worker_open_no_network_socket(sa):
    assert sa.run("load").returncode == 0
    status = sa.status()
    pids = [status["pid"], sa.variant()["worker_pid"]]
    for pid in pids:
        sockets = _socket_inodes(pid)
        assert sockets, f"pid {pid} has no sockets at all: the check would be vacuous"
        assert _inet_sockets(pid) == set(), f"pid {pid} has a TCP/UDP/raw socket"
    # the daemon's sockets are Unix sockets (its listening socket among them)
    assert _socket_inodes(pids[0]) & _table_inodes(pids[0], ("unix",))
