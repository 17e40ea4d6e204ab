"""How soon a re-grading answers in a warm process (what `grade watch` and `grade mock` do).

    python -m benchmarks.warm_regrade                  # nt_xent, a correct catalogue file, 4 gradings
    python -m benchmarks.warm_regrade --skip-speed

One process grades the same file several times through the engine, with warm children on
(sandbox.WarmChildren: the first grading starts a zygote that has imported torch, later
ones fork their child from it). Printed per grading: seconds to the first check result and
to the whole result. The first grading is the cold case, less the interpreter's start.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise", default="nt_xent")
    parser.add_argument("--file", type=Path, default=ROOT / "tests/submissions/nt_xent/correct_view_blocks.py")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args(argv)

    from grader.catalog import load_exercise
    from grader.engine import grade
    from grader.sandbox import WARM

    WARM.enabled = True
    exercise = load_exercise(args.exercise)
    print(f"{'grading':>7}  {'first result':>12}  {'whole':>7}  passed")
    for run in range(1, args.runs + 1):
        first: list[float] = []
        started = time.perf_counter()
        report = grade(exercise, args.file, device="cpu", seed=0, skip=["speed"] if args.skip_speed else None,
                       on_result=lambda result: first.append(time.perf_counter()) if not first else None)
        whole = time.perf_counter() - started
        print(f"{run:>7}  {first[0] - started:>10.2f} s  {whole:>5.2f} s  {report.passed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
