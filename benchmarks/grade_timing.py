"""Wall time of `grade <exercise> --reference`, split into start-up, checks and speed measurement.

    python -m benchmarks.grade_timing                 # every loss exercise, 5 runs each
    python -m benchmarks.grade_timing --runs 3 --exercises nt_xent

Each run is `python -m grader EXERCISE --reference --json --device cpu --seed S`
in a fresh process (what `grade` runs), timed from outside. The JSON gives
the engine's own duration and each check's; from those:

* process start: wall time minus the engine's duration (the interpreter, the
  CLI's imports, torch among them, in the parent);
* engine overhead: the engine's duration minus the sum of its checks
  (starting the sandboxed child, which imports torch again, pytest's
  collection, the reports);
* checks: every check that is not in the speed category;
* speed: the speed checks, which also start the reference's own child
  (lazily, on first use) and time learner and reference interleaved.

start-up = process start + engine overhead. Also measured once per run of
this script: `python -c "import torch"` alone, the part of each process
start that no engine change can remove. Each run is repeated on a
pseudo-terminal, as a learner sees it, for the time until the first check's
result is on the screen. Reported: medians over the runs, and the slowest
checks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOSS_EXERCISES = ("nt_xent", "info_nce", "nce_loss")
BUDGET_S = 20.0


def timed(cmd, timeout=600):
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    return time.perf_counter() - started, proc


def import_torch_s(runs: int) -> float:
    return statistics.median(timed([sys.executable, "-c", "import torch"])[0] for _ in range(runs))


def one_grading(exercise: str, seed: int) -> dict:
    wall, proc = timed([sys.executable, "-m", "grader", exercise, "--reference", "--json",
                        "--device", "cpu", "--seed", str(seed)])
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"grade {exercise} exited {proc.returncode}: {proc.stderr[-800:]}")
    doc = json.loads(proc.stdout)
    checks = doc["checks"]
    speed = sum(c["duration_s"] for c in checks if c["category"] == "speed")
    other = sum(c["duration_s"] for c in checks if c["category"] != "speed")
    return {"wall_s": wall, "engine_s": doc["duration_s"], "process_start_s": wall - doc["duration_s"],
            "engine_overhead_s": doc["duration_s"] - speed - other, "checks_s": other, "speed_s": speed,
            "passed": doc["passed"], "per_check": {c["name"]: c["duration_s"] for c in checks}}


def on_a_terminal(exercise: str, seed: int) -> dict:
    """The same grading on a pseudo-terminal, as a learner sees it: when the first check's
    result is on the screen (the progress line "... last: CHECK STATUS"), and when it exits."""
    import os
    import pty
    import select

    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.environ["CONTRASTIVE_KIT_LANG"] = "en"
        os.execv(sys.executable, [sys.executable, "-m", "grader", exercise, "--reference", "--device", "cpu",
                                  "--seed", str(seed)])
    first, seen = None, b""
    while True:
        ready, _, _ = select.select([fd], [], [], 600)
        try:
            data = os.read(fd, 65536) if ready else b""
        except OSError:
            data = b""
        if not data:
            break
        seen = (seen + data)[-4096:]
        if first is None and b"last:" in seen:
            first = time.perf_counter() - started
    os.waitpid(pid, 0)
    os.close(fd)
    return {"first_result_s": first, "terminal_wall_s": time.perf_counter() - started}


def summarize(runs: list[dict]) -> dict:
    keys = ("wall_s", "process_start_s", "engine_overhead_s", "checks_s", "speed_s")
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["startup_s"] = out["process_start_s"] + out["engine_overhead_s"]
    for key in ("first_result_s", "terminal_wall_s"):
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    out["wall_runs_s"] = [r["wall_s"] for r in runs]
    out["all_passed"] = all(r["passed"] for r in runs)
    names = runs[0]["per_check"]
    per_check = {n: statistics.median(r["per_check"].get(n, 0.0) for r in runs) for n in names}
    out["slowest_checks"] = sorted(per_check.items(), key=lambda kv: -kv[1])[:6]
    out["under_budget"] = out["wall_s"] < BUDGET_S
    return out


def render(doc: dict):
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    table = Table(title=f"grade <exercise> --reference, median of {doc['runs']} runs "
                        f"(import torch alone: {doc['import_torch_s']:.2f} s)")
    for col in ("exercise", "wall", "first result (terminal)", "start-up (process + engine)", "checks", "speed",
                "< 20 s", "slowest checks"):
        table.add_column(col, justify="left" if col in ("exercise", "slowest checks") else "right")
    for name, s in doc["exercises"].items():
        if "missing" in s:
            table.add_row(name, "n/a", "", "", "", "", "", s["missing"])
            continue
        slow = ", ".join(f"{n} {t:.2f}s" for n, t in s["slowest_checks"][:4])
        first = s.get("first_result_s")
        table.add_row(name, f"{s['wall_s']:.1f} s", "n/a" if first is None else f"{first:.2f} s",
                      f"{s['startup_s']:.1f} s ({s['process_start_s']:.1f} + {s['engine_overhead_s']:.1f})",
                      f"{s['checks_s']:.1f} s", f"{s['speed_s']:.1f} s", "yes" if s["under_budget"] else "NO",
                      slow)
    console.print(table)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.grade_timing", description=__doc__.split("\n\n")[0])
    p.add_argument("--exercises", default=",".join(LOSS_EXERCISES))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="seed of the first run; run i uses seed + i")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "grade_timing_cpu.json"))
    p.add_argument("--no-json", action="store_true")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from grader.catalog import exercise_names

    known = set(exercise_names())
    doc = {"runs": args.runs, "budget_s": BUDGET_S, "import_torch_s": import_torch_s(3), "exercises": {}}
    for name in [x for x in args.exercises.split(",") if x]:
        if name not in known:
            doc["exercises"][name] = {"missing": f"no exercise {name!r} in this copy of the kit"}
            continue
        runs = [{**one_grading(name, args.seed + i), **on_a_terminal(name, args.seed + i)}
                for i in range(args.runs)]
        doc["exercises"][name] = summarize(runs)
        doc["exercises"][name]["raw"] = runs
    render(doc)
    if not args.no_json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1))
        print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
