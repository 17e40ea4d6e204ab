"""Forward + backward time and peak memory of our loss references against the public ones.

    python -m benchmarks.losses                       # the CPU suite: N 256, 1024, 4096; D 128, 256
    python -m benchmarks.losses --device cuda         # N up to 16384, float32 (TF32 off) and bfloat16
    python -m benchmarks.losses --sizes 8 --dims 4 --reps 1 --memory none   # a smoke run

Per case every implementation is first checked against our reference (loss
and gradients; a peer that disagrees stops the run), then timed round-robin
in this process (the start of the round rotates), medians reported with the
ratio to the floor (the similarity matmul forward + backward alone; for
nce_loss the plain binary-cross-entropy version). Peak memory comes from a
fresh process per (case, implementation): benchmarks/memory_child.py.

Threads: one torch thread by default (--threads). On the 2-core machine this
was written on, one thread was as fast as or faster than two for these sizes
(benchmarks/RESULTS.md), and the grader's speed check runs learner and
reference with one thread each (grader/checks/<exercise>.py THREADS = 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks import suite

CPU_SIZES, GPU_SIZES = (256, 1024, 4096), (1024, 4096, 16384)
DIMS = (128, 256)
PROBLEMS = ("nt_xent", "info_nce", "nce_loss")
INFO_NCE_MODES = ("in-batch", "unpaired")
ROOT = Path(__file__).resolve().parent.parent


def machine_info(device: str, threads: int) -> dict:
    info = {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "torch": torch.__version__, "cpu_count": os.cpu_count(), "torch_threads": threads,
            "device": device}
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
        info["tf32_matmul"] = False
    try:
        info["load_average_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def default_cap_bytes() -> int:
    """Half the memory available now, at most 8 GiB: a peer's O(N^3) appetite fails fast instead."""
    try:
        with open("/proc/meminfo") as fh:
            avail = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        avail = 16 << 30
    return min(8 << 30, avail // 2)


def build_cases(args) -> list[suite.Case]:
    cases = []
    for problem in args.problems:
        modes = INFO_NCE_MODES if problem == "info_nce" else ("",)
        for dtype in args.dtypes:
            for d in args.dims:
                for mode in modes:
                    for n in args.sizes:
                        cases.append(suite.Case(problem, n, d, dtype, args.device, mode))
    return cases


def measure_memory(case: suite.Case, impl_key: str, args) -> dict:
    spec = dict(case.as_dict(), impl=impl_key, threads=args.threads, cap_bytes=args.cap_bytes)
    # glibc hands every allocation of 64 KiB and more back to the OS when it is freed, so that the
    # process's resident high-water mark follows live tensors (otherwise freed blocks stay resident).
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", PYTHONPATH=str(ROOT))
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.memory_child", json.dumps(spec)],
                              capture_output=True, text=True, timeout=args.memory_timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "note": f"no answer within {args.memory_timeout:g} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "note": f"exit {proc.returncode}: {tail[:160]}"}
    return json.loads(lines[-1])


def fmt_ms(seconds):
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def render(doc: dict, console=None):
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 150)
    m = doc["machine"]
    where = m.get("gpu") or m.get("cpu")
    console.print(f"[bold]{where}[/bold], torch {m['torch']}, {m['torch_threads']} torch thread(s), "
                  f"{m['cpu_count']} cores; median of {doc['settings']['reps']} rounds")
    for problem in dict.fromkeys(c["problem"] for c in doc["cases"]):
        baseline = "nce_loss: x plain BCE version" if problem == "nce_loss" else "x floor"
        table = Table(title=f"{problem} forward + backward ({baseline})", show_lines=False)
        for col, justify in (("case", "left"), ("implementation", "left"), ("median ms", "right"),
                             ("x floor" if problem != "nce_loss" else "x BCE", "right"),
                             ("peak memory", "right"), ("note", "left")):
            table.add_column(col, justify=justify, overflow="fold")
        for case in (c for c in doc["cases"] if c["problem"] == problem):
            items = list(case["results"].items())
            for index, (key, res) in enumerate(items):
                status = res["status"]
                time_cell = fmt_ms(res.get("median_s")) if status == "ok" else status
                ratio = res.get("ratio")
                mem = res.get("memory", {})
                mem_cell = fmt_bytes(mem.get("peak_bytes")) if mem.get("status") == "ok" else mem.get("status", "-")
                notes = [res.get("note", "")]
                if mem.get("status") not in (None, "ok"):
                    notes.append(mem.get("note", ""))
                note = "; ".join(dict.fromkeys(x for x in notes if x))
                table.add_row(case["label"] if index == 0 else "", res["label"], time_cell,
                              f"{ratio:.2f}" if ratio is not None else "-", mem_cell, note,
                              end_section=index == len(items) - 1)
        console.print(table)


def markdown(doc: dict) -> str:
    """The results as Markdown tables, one per problem (what benchmarks/RESULTS.md quotes)."""
    lines = []
    for problem in dict.fromkeys(c["problem"] for c in doc["cases"]):
        ratio = "x BCE" if problem == "nce_loss" else "x floor"
        lines += [f"#### {problem}", "", f"| case | implementation | median ms | {ratio} | peak memory | note |",
                  "|---|---|---:|---:|---:|---|"]
        for case in (c for c in doc["cases"] if c["problem"] == problem):
            for index, res in enumerate(case["results"].values()):
                mem = res.get("memory", {})
                mem_cell = fmt_bytes(mem.get("peak_bytes")) if mem.get("status") == "ok" else mem.get("status", "-")
                ok = res["status"] == "ok"
                ratio_cell = f"{res['ratio']:.2f}" if ok and res.get("ratio") is not None else "-"
                notes = [res.get("note", "")] + ([mem.get("note", "")] if mem.get("status") not in (None, "ok")
                                                 else [])
                lines.append(f"| {case['label'] if index == 0 else ''} | {res['label']} | "
                             f"{fmt_ms(res.get('median_s')) if ok else res['status']} | {ratio_cell} | {mem_cell} | "
                             f"{'; '.join(dict.fromkeys(x for x in notes if x))} |")
        lines.append("")
    return "\n".join(lines)


def run(args, log) -> dict:
    torch.set_num_threads(args.threads)
    old_limit = resource.getrlimit(resource.RLIMIT_AS)
    if args.device == "cpu" and args.cap_bytes:              # soft limit only: restored at the end
        resource.setrlimit(resource.RLIMIT_AS, (args.cap_bytes, old_limit[1]))
    try:
        return _run(args, log)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old_limit)


def _run(args, log) -> dict:
    doc = {"machine": machine_info(args.device, args.threads),
           "settings": {"reps": args.reps, "budget_s": args.budget_s, "threads": args.threads,
                        "cap_bytes": args.cap_bytes if args.device == "cpu" else None,
                        "memory_method": ("peak RSS of a fresh process (VmHWM reset, glibc mmap threshold "
                                          "64 KiB) minus RSS before the step" if args.device == "cpu" else
                                          "torch.cuda.max_memory_allocated minus allocated before the step"),
                        "temperatures": suite.TEMPERATURE},
           "cases": []}
    slow: dict = {}                                  # (problem, d, dtype, mode, impl) -> reason to skip larger N
    started = time.perf_counter()
    with suite.float32_matmul_exact():
        for case in build_cases(args):
            impls = suite.impls_for(case.problem, args.only)
            if not impls:
                continue
            family = (case.problem, case.d, case.dtype, case.mode)
            skip = {i.key: slow[family + (i.key,)] for i in impls if family + (i.key,) in slow}
            log(f"{case.label()} [{case.problem}] ...")
            outcomes = suite.time_case(case, impls, reps=args.reps, budget_s=args.budget_s,
                                       skip=skip, log=log if args.verbose else (lambda *a: None))
            floor = outcomes.get(impls[0].key) if impls[0].role == "floor" else None
            floor_s = floor.median_s if floor and floor.status == "ok" else None
            entry = {"label": case.label(), **case.as_dict(), "results": {}}
            for impl in impls:
                res = outcomes[impl.key]
                row = {"label": impl.label, "role": impl.role, "status": res.status, "note": res.note}
                if res.status == "ok":
                    row.update(median_s=res.median_s, reps=len(res.times), times_s=res.times,
                               ratio=res.median_s / floor_s if floor_s else None)
                    if res.first_s > args.max_call_s:
                        slow[family + (impl.key,)] = f"{res.first_s:.0f} s per call at N={case.n}"
                elif res.status == "oom":
                    slow[family + (impl.key,)] = f"out of memory at N={case.n}"
                if want_memory(args, impl.key) and res.status in ("ok", "oom"):
                    row["memory"] = measure_memory(case, impl.key, args)
                entry["results"][impl.key] = row
            doc["cases"].append(entry)
            if args.json:                            # written as it goes: a long run leaves what it has
                write_json(doc, args.json)
    doc["elapsed_s"] = time.perf_counter() - started
    return doc


def want_memory(args, key) -> bool:
    return args.memory == "all" or key in args.memory.split(",")


def write_json(doc, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(path)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.losses", description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated: " + ", ".join(PROBLEMS))
    p.add_argument("--sizes", help="comma-separated N (default 256,1024,4096 on cpu; 1024,4096,16384 on cuda)")
    p.add_argument("--dims", default="128,256", help="comma-separated D (K noise samples for nce_loss)")
    p.add_argument("--dtypes", help="comma-separated (default float32 on cpu; float32,bfloat16 on cuda)")
    p.add_argument("--only", help="comma-separated implementation keys (floor, reference, fused, ...)")
    p.add_argument("--reps", type=int, default=5, help="timed rounds per case (default 5)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--budget-s", type=float, default=30.0,
                   help="time budget per implementation and case: a slower one gets fewer reps (>= 1)")
    p.add_argument("--max-call-s", type=float, default=60.0,
                   help="an implementation whose call took longer is skipped at larger N")
    p.add_argument("--memory", default="all", help="'all', 'none', or comma-separated implementation keys")
    p.add_argument("--memory-timeout", type=float, default=600.0)
    p.add_argument("--cap-gb", type=float,
                   help="address-space cap on the CPU in GiB, 0 for none (default: min(8, available/2))")
    p.add_argument("--json", help="write the results here (default benchmarks/results/<device>.json)")
    p.add_argument("--no-json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--show", metavar="JSON", help="print the tables of an earlier run's JSON and exit")
    p.add_argument("--markdown", action="store_true", help="with --show: Markdown tables instead")
    args = p.parse_args(argv)
    gpu = args.device.startswith("cuda")
    if gpu and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device here")
    args.problems = [x for x in args.problems.split(",") if x]
    for problem in args.problems:
        if problem not in PROBLEMS:
            p.error(f"unknown problem {problem!r}")
    args.sizes = [int(x) for x in (args.sizes or ",".join(map(str, GPU_SIZES if gpu else CPU_SIZES))).split(",")]
    args.dims = [int(x) for x in args.dims.split(",")]
    args.dtypes = (args.dtypes or ("float32,bfloat16" if gpu else "float32")).split(",")
    args.only = set(args.only.split(",")) if args.only else None
    if args.cap_gb is not None:                              # --cap-gb 0: no cap
        args.cap_bytes = int(args.cap_gb * (1 << 30)) or None
    else:
        args.cap_bytes = None if gpu else default_cap_bytes()
    if args.no_json:
        args.json = None
    elif not args.json:
        args.json = str(ROOT / "benchmarks" / "results" / f"{'cuda' if gpu else 'cpu'}.json")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 150)
    if args.show:
        doc = json.loads(Path(args.show).read_text())
        if args.markdown:
            print(markdown(doc))
        else:
            render(doc, console)
        return 0
    log = lambda msg: console.print(f"[dim]{msg}[/dim]")
    doc = run(args, log)
    render(doc, console)
    if args.json:
        write_json(doc, args.json)
        console.print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
