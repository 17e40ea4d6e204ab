"""Peak memory of one implementation on one case, in a fresh process.

    python -m benchmarks.memory_child '{"problem": "nt_xent", "n": 1024, "d": 128, "dtype": "float32",
                                        "device": "cpu", "mode": "", "impl": "fused", "threads": 1,
                                        "cap_bytes": 8589934592}'

prints one JSON line: {"status": "ok", "peak_bytes": ..., "method": ...} (or a
status of n/a, oom, error with a note).

The peak is what the forward + backward step adds on top of what was there
before it: the inputs (and the floor's ready-made upstream gradient) are
made first, the implementation is run once on a tiny case so that lazy
initialisation is not counted, then

* CPU: the process's resident-set high-water mark is reset (writing 5 to
  /proc/self/clear_refs), the step runs, and the peak is VmHWM after it
  minus VmRSS before it (both from /proc/self/status). Where the reset is
  not allowed, ru_maxrss is used the same way, which is only right when the
  step's peak is above everything before it (it is, for these sizes).
* CUDA: torch.cuda.max_memory_allocated() after the step minus
  torch.cuda.memory_allocated() before it, with the peak statistics reset.

On the CPU the address space is capped (RLIMIT_AS, `cap_bytes`) so that a
peer that wants tens of GB fails with an allocation error instead of
pushing the shared machine into swap or the OOM killer.
"""

from __future__ import annotations

import dataclasses
import json
import re
import resource
import sys


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return int(re.search(rf"^{field}:\s+(\d+) kB", fh.read(), re.M).group(1))


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(spec: dict) -> dict:
    device = spec.get("device", "cpu")
    if device == "cpu" and spec.get("cap_bytes"):
        cap = int(spec["cap_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import torch

    from benchmarks import suite
    from benchmarks.peers import Unavailable

    torch.set_num_threads(int(spec.get("threads", 1)))
    case = suite.Case(**{f.name: spec[f.name] for f in dataclasses.fields(suite.Case) if f.name in spec})
    impl = suite.find_impl(case.problem, spec["impl"])
    try:
        step = impl.load()
    except Unavailable as exc:
        return {"status": "n/a", "note": str(exc)}
    with suite.float32_matmul_exact():
        tiny = suite.make_inputs(dataclasses.replace(case, n=4, d=min(case.d, 8)), seed=1)
        step(tiny)                                            # lazy initialisation, not counted
        del tiny
        inputs = suite.make_inputs(case, seed=0)
        if hasattr(step, "prepare"):
            step.prepare(inputs)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            method = "torch.cuda.max_memory_allocated - memory_allocated before"
        else:
            before = _status_kb("VmRSS") * 1024
            if _reset_peak_rss():
                method = "VmHWM after (reset via /proc/self/clear_refs) - VmRSS before"
            else:
                before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                method = "ru_maxrss after - ru_maxrss before"
        try:
            step(inputs)
        except Exception as exc:                              # noqa: BLE001 - reported
            if suite.is_oom(exc):
                return {"status": "oom", "note": suite.oom_note(exc)}
            return {"status": "error", "note": f"{type(exc).__name__}: {str(exc)[:160]}"}
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - before
        elif method.startswith("VmHWM"):
            peak = _status_kb("VmHWM") * 1024 - before
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {"status": "ok", "peak_bytes": max(0, int(peak)), "method": method}


def main(argv=None):
    spec = json.loads((argv or sys.argv[1:])[0])
    try:
        result = measure(spec)
    except MemoryError as exc:
        result = {"status": "oom", "note": f"out of memory ({exc})"}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
