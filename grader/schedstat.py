"""Seconds each thread of a process has spent ready to run but waiting for a CPU, from
/proc/PID/task/*/schedstat (Linux): what the busy clock of a training budget discounts.

Used by the parent for a child (sandbox.ChildProcess.cpu_waits) and by the child for itself
(child.py's _BusyClock); dependency-free, since the child imports it by path before torch."""

from __future__ import annotations

import os


def thread_waits(pid: int | str = "self") -> dict[str, float]:
    """{thread id: seconds waited}; {} where /proc cannot tell (the process is gone)."""
    waits = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return waits
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                waits[tid] = int(f.read().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            pass
    return waits
