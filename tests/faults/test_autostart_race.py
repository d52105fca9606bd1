"""32 CLIs racing to auto-start the daemon (issue 8, fault 7; replaces the 16-CLI test of
tests/daemon/test_autostart.py): exactly one daemon starts and every CLI talks to it. (`daemon start`
races here: `status` never starts the daemon.)"""
from __future__ import annotations

import json
import re
import subprocess


def test_thirty_two_clis_at_once_start_exactly_one_daemon(sa):
    procs = [subprocess.Popen(sa.cmd("daemon", "start"), env=sa.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(32)]
    outputs = [p.communicate(timeout=120) for p in procs]
    results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs)]
    assert all(rc == 0 for rc, _, _ in results), [err for rc, _, err in results if rc]
    lines = [re.fullmatch(r"stepaudiod \S+ (started|is running) \(pid (\d+)\) on \S+\n", err) for _, _, err in results]
    assert all(lines), "no notes or warnings from a clean start: " + repr([e for _, _, e in results])
    assert [m.group(1) for m in lines].count("started") == 1
    pids = {int(m.group(2)) for m in lines}
    assert len(pids) == 1
    assert sa.daemon_pids() == list(pids) == [json.loads(sa.run("status", "--json").stdout)["pid"]]
    starts = sa.run("daemon", "logs", "-n", "500").stdout.count("serving on")
    assert starts == 1
