"""`grade batch EXERCISE DIR`: grade a folder of submissions into a gradebook.

Every `.py` file of DIR, and the last `%%grade EXERCISE` cell of every `.ipynb`, is graded
by its own `grade EXERCISE --file F --json` process (its own sandboxed child). First every
check that does not time anything, several files at once (one per core); then the timed
checks (speed, training), one file at a time, so that no two gradings share the cores while
a ratio is measured. A file whose grading crashes or passes --timeout is recorded as such and
the batch goes on. Results: DIR/gradebook.csv and DIR/gradebook/FILE.json (the schema of
`grade --json`). A file whose graded source, the options and the kit are unchanged since the
last batch keeps its report (DIR/gradebook/cache.json).

`grade batch --report DIR`: per-check pass rates over the files of the last batch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.catalog import KIT_ROOT, UsageError, load_exercise
from grader.commands._common import names, positive_float, positive_int

NAME = "batch"
HELP = "grade every .py file and notebook of a folder into a gradebook (--report DIR: pass rates)"

TIMED_CATEGORIES = ("speed", "training")  # checks whose verdict depends on having the cores alone
GRADEBOOK = "gradebook"
CACHE_FORMAT = 1
POLL_S = 0.1


def add_arguments(parser) -> None:
    parser.add_argument("targets", nargs="*", metavar="EXERCISE DIR",
                        help="the exercise, and the folder of submissions")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="show the per-check pass rates of DIR's last batch; grade nothing")
    parser.add_argument("--jobs", "-j", type=positive_int,
                        help="gradings at once for the untimed checks (default: the cores available)")
    parser.add_argument("--timeout", type=positive_float, default=300.0, metavar="SECONDS",
                        help="stop one file's grading after this long (default 300; per phase)")
    parser.add_argument("--seed", type=int, help="hypothesis seed for every file (default: one random "
                        "seed for the whole batch)")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--thorough", action="store_true", help="run many more hypothesis examples")
    parser.add_argument("--only", help="comma-separated check names or categories to run")
    parser.add_argument("--skip", help="comma-separated check names or categories not to run "
                        "(--skip speed: no timed phase)")
    parser.add_argument("--force", action="store_true", help="grade every file again, cached or not")


# -- what is graded ------------------------------------------------------------------------------

@dataclass
class Submission:
    name: str                      # the file's name in DIR
    graded: Path | None            # the file the grader reads (a notebook's cell is written out)
    problem: str = ""              # why there is nothing to grade
    digest: str = ""
    key: str = ""
    report: dict | None = None
    outcome: str = ""              # passed, failed, crash, timeout, no cell
    cached: bool = False
    complete: bool = False         # every phase it needs has ended
    notes: list = field(default_factory=list)


def discover(folder: Path, exercise: str, book: Path) -> list[Submission]:
    """The submissions of FOLDER, in name order; a notebook's graded cell is written to
    book/cells/NAME.py before any grading starts (a file written while another grading runs
    could look planted to it)."""
    from grader.notebook import cell_body, graded_cells

    found = []
    for path in sorted(folder.iterdir()):
        if not _candidate(path):
            continue
        if path.suffix == ".py":
            found.append(Submission(path.name, path))
            continue
        try:
            cells = graded_cells(path, exercise)
        except ValueError as exc:
            found.append(Submission(path.name, None, problem=str(exc)))
            continue
        if not cells:
            found.append(Submission(path.name, None, problem=f"no cell starts with %%grade {exercise}"))
            continue
        target = book / "cells" / f"{path.name}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        body = cell_body(cells[-1])  # the learner's latest attempt
        if not target.is_file() or target.read_text(encoding="utf-8", errors="replace") != body:
            target.write_text(body, encoding="utf-8")
        sub = Submission(path.name, target)
        if len(cells) > 1:
            sub.notes.append(f"the last of {len(cells)} %%grade {exercise} cells was graded")
        found.append(sub)
    return found


def _candidate(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix in (".py", ".ipynb") and path.is_file()


def kit_version() -> str:
    """The kit's version and a hash of everything that decides a verdict: the grader (checks
    included, data too) and the references. Any change re-grades every file."""
    from importlib import metadata

    try:
        version = metadata.version("contrastive-kit")
    except metadata.PackageNotFoundError:
        version = "0"
    digest = hashlib.sha256()
    files = [p for folder in (KIT_ROOT / "grader", KIT_ROOT / "solutions") for p in folder.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    for path in sorted(files):
        digest.update(path.relative_to(KIT_ROOT).as_posix().encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"unreadable")
    return f"{version}+{digest.hexdigest()[:16]}"


# -- running gradings ----------------------------------------------------------------------------

@dataclass
class Outcome:
    report: dict | None            # the JSON document, when the grading printed one
    status: str                    # "report", "crash", "timeout", "usage"
    message: str = ""
    duration_s: float = 0.0


def run_gradings(jobs: list[tuple[str, list[str]]], parallel: int, timeout: float, env: dict,
                 on_start=None, on_done=None) -> dict[str, Outcome]:
    """Run (key, argv) gradings, at most `parallel` at a time, each stopped (with everything it
    started) after `timeout` seconds. Their output goes to files, never a pipe that could fill."""
    from grader.notebook import exit_description, start_grading, stop_tree

    pending = list(jobs)
    running = []
    results: dict[str, Outcome] = {}
    try:
        while pending or running:
            while pending and len(running) < parallel:
                key, argv = pending.pop(0)
                out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
                running.append((key, start_grading(argv, out, err, env), out, err, time.perf_counter()))
                if on_start:
                    on_start(key)
            still = []
            for key, proc, out, err, started in running:
                code = proc.poll()
                elapsed = time.perf_counter() - started
                if code is None and elapsed <= timeout:
                    still.append((key, proc, out, err, started))
                    continue
                if code is None:
                    stop_tree(proc)
                    outcome = Outcome(None, "timeout", f"the grading took longer than {timeout:g} s "
                                      f"and was stopped", elapsed)
                else:
                    stop_tree(proc)  # anything it left behind
                    outcome = _read_outcome(code, out, err, elapsed, exit_description)
                out.close()
                err.close()
                results[key] = outcome
                if on_done:
                    on_done(key, outcome)
            running = still
            if running:
                time.sleep(POLL_S)
    finally:
        for key, proc, out, err, _ in running:
            stop_tree(proc)
            out.close()
            err.close()
    return results


def _read_outcome(code, out, err, elapsed, exit_description) -> Outcome:
    out.seek(0)
    err.seek(0)
    stdout = out.read().decode(errors="replace")
    stderr = err.read().decode(errors="replace")
    last = (stderr.strip().splitlines() or [""])[-1]
    if code in (0, 1):
        try:
            doc = json.loads(stdout)
            if isinstance(doc, dict) and isinstance(doc.get("checks"), list):
                return Outcome(doc, "report", duration_s=elapsed)
        except ValueError:
            pass
        return Outcome(None, "crash", f"the grade process printed no report it could read "
                       f"({exit_description(code)})", elapsed)
    if code == 2:
        return Outcome(None, "usage", last.removeprefix("grade: error: "), elapsed)
    return Outcome(None, "crash", f"the grade process ended without a report ({exit_description(code)})"
                   + (f": {last}" if last else ""), elapsed)


def check_categories(exercise) -> dict[str, str]:
    """check name -> category, as --only and --skip see them (imports the checks module)."""
    import importlib

    from grader.engine import ENGINE_CHECKS

    module = importlib.import_module(f"grader.checks.{exercise.name}")
    found = dict(ENGINE_CHECKS)
    for attr, fn in vars(module).items():
        if attr.startswith("check_") and callable(fn):
            marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "category"]
            found[attr.removeprefix("check_")] = marks[0].args[0] if marks else "correctness"
    return found


def timed_checks(categories: dict[str, str], only, skip) -> list[str]:
    def chosen(name, category):
        if only and name not in only and category not in only:
            return False
        return not (skip and (name in skip or category in skip))

    return sorted(n for n, c in categories.items() if c in TIMED_CATEGORIES and chosen(n, c))


# -- the reports ---------------------------------------------------------------------------------

def synthetic_report(exercise: str, name: str, seed, status: str, message: str, duration: float,
                     category: str = "interface", check: str = "grading") -> dict:
    """A report in the schema of `grade --json` for a file the grader could not report on."""
    return {"exercise": exercise, "file": name, "device": "", "seed": seed, "passed": False,
            "duration_s": round(duration, 3),
            "checks": [{"name": check, "category": category, "status": status, "message": message,
                        "duration_s": round(duration, 4)}]}


def merge_timed(report: dict, timed: Outcome, names_wanted: list[str], exercise: str) -> dict:
    """The untimed report with the timed phase's checks added (and its integrity verdict, if
    that one failed)."""
    merged = dict(report)
    checks = list(report["checks"])
    if timed.report is None:
        checks.append({"name": "timed_checks", "category": "speed",
                       "status": "timeout" if timed.status == "timeout" else "error",
                       "message": f"the timed checks ({', '.join(names_wanted)}): {timed.message}",
                       "duration_s": round(timed.duration_s, 4)})
    else:
        wanted = set(names_wanted)
        checks += [c for c in timed.report["checks"] if c["name"] in wanted]
        integrity = [c for c in timed.report["checks"] if c["category"] == "integrity"
                     and c["status"] != "passed"]
        if integrity:
            bad = {c["name"] for c in integrity}
            checks = [c for c in checks if c["name"] not in bad] + integrity
    merged["checks"] = checks
    merged["passed"] = bool(checks) and all(c["status"] == "passed" for c in checks)
    merged["duration_s"] = round(float(report.get("duration_s", 0)) + timed.duration_s, 3)
    return merged


def outcome_word(report: dict) -> str:
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    if statuses.get("grading") in ("error", "timeout") and len(statuses) == 1:
        return "timeout" if statuses["grading"] == "timeout" else "crash"
    return "passed" if report.get("passed") else "failed"


def category_columns(reports: list[dict]) -> list[str]:
    from grader.results import category_rank

    seen = {c["category"] for r in reports for c in r["checks"]}
    return sorted(seen, key=lambda c: (category_rank(c), c))


def gradebook_csv(subs: list[Submission]) -> str:
    reports = [s.report for s in subs]
    categories = category_columns(reports)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["file", "passed", "result", "checks_passed", "checks_total"]
    for category in categories:
        header += [category, f"{category}_total"]
    writer.writerow(header + ["duration_s", "seed", "cached", "notes"])
    for sub in subs:
        checks = sub.report["checks"]
        row = [sub.name, "yes" if sub.report.get("passed") else "no", sub.outcome,
               sum(c["status"] == "passed" for c in checks), len(checks)]
        for category in categories:
            mine = [c for c in checks if c["category"] == category]
            row += [sum(c["status"] == "passed" for c in mine), len(mine)]
        row += [f"{float(sub.report.get('duration_s', 0)):.1f}", sub.report.get("seed", ""),
                "yes" if sub.cached else "no", "; ".join(sub.notes)]
        writer.writerow(row)
    return buffer.getvalue()


def load_gradebook(folder: Path) -> list[tuple[dict, dict]]:
    """(csv row, report) for every file of the folder's last batch."""
    path = folder / "gradebook.csv"
    if not path.is_file():
        raise UsageError(f"no gradebook in {folder} (run `grade batch EXERCISE {folder}` first)")
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    found = []
    for row in rows:
        report_path = folder / GRADEBOOK / f"{row.get('file', '')}.json"
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
            report["checks"]  # noqa: B018  (a report without checks is unreadable)
        except (OSError, ValueError, KeyError, TypeError):
            raise UsageError(f"{path} names {row.get('file')!r}, whose report {report_path} is missing "
                             f"or unreadable; run the batch again") from None
        found.append((row, report))
    if not found:
        raise UsageError(f"{path} lists no files")
    return found


def summary_table(entries: list[tuple[dict, dict]], title: str):
    """Per-check pass rates across the files, by category: which checks the group struggles with."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from grader.results import category_rank

    stats: dict[tuple[str, str], dict] = {}
    for _, report in entries:
        for check in report["checks"]:
            slot = stats.setdefault((check["category"], check["name"]),
                                    {"passed": 0, "total": 0, "messages": {}})
            slot["total"] += 1
            if check["status"] == "passed":
                slot["passed"] += 1
            elif check["status"] != "skipped":
                first = ((check.get("message") or "").splitlines() or [check["status"]])[0][:120]
                slot["messages"][first] = slot["messages"].get(first, 0) + 1
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("category", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("passed", justify="right", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    # the most frequent message; the one column that gives way on a narrow screen
    table.add_column("typical failure")
    last_category = None
    for (category, check), slot in sorted(stats.items(), key=lambda kv: (category_rank(kv[0][0]),
                                                                        kv[0][0], kv[0][1])):
        rate = slot["passed"] / slot["total"]
        style = "green" if rate == 1 else ("red" if rate < 0.5 else "yellow")
        common = max(slot["messages"].items(), key=lambda kv: kv[1])[0] if slot["messages"] else ""
        table.add_row(category if category != last_category else "", check,
                      f"{slot['passed']}/{slot['total']}", Text(f"{rate:.0%}", style=style),
                      Text(common, no_wrap=True, overflow="ellipsis"))
        last_category = category
    return table


def show_summary(out, entries) -> None:
    from rich.text import Text

    words = [row.get("result", "") for row, _ in entries]
    exercise = entries[0][1].get("exercise", "")
    out.print(summary_table(entries, f"{exercise} · {len(entries)} files · per-check pass rates"))
    parts = [f"{words.count('passed')}/{len(entries)} files passed"]
    for word in ("failed", "crash", "timeout", "no cell"):
        if words.count(word):
            parts.append(f"{words.count(word)} {word}")
    out.print(Text(" · ".join(parts)))
    broken = [row["file"] for row, _ in entries if row.get("result") in ("crash", "timeout", "no cell")]
    if broken:
        out.print(Text(f"not graded to the end: {', '.join(broken)}", style="yellow"))


# -- the command ---------------------------------------------------------------------------------

def run(args) -> int:
    from grader.commands._common import console

    if args.report is not None:
        if args.targets:
            raise UsageError("--report takes only the folder: grade batch --report DIR")
        folder = args.report
        if not folder.is_dir():
            raise UsageError(f"no such folder: {folder}")
        show_summary(console(), load_gradebook(folder))
        return 0
    if len(args.targets) != 2:
        raise UsageError("usage: grade batch EXERCISE DIR (or grade batch --report DIR)")
    exercise = load_exercise(args.targets[0])
    folder = Path(args.targets[1])
    if not folder.is_dir():
        raise UsageError(f"no such folder: {folder}")
    return grade_folder(exercise, folder, args)


def grade_folder(exercise, folder: Path, args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.commands._common import console
    from grader.engine import new_seed, validate_request
    from grader.notebook import grade_arguments, grade_environment, write_atomically

    only, skip = names(args.only), names(args.skip)
    validate_request(exercise, only, skip)
    if not any(_candidate(p) for p in folder.iterdir()):
        raise UsageError(f"no .py or .ipynb files in {folder}")
    book = folder / GRADEBOOK
    book.mkdir(exist_ok=True)
    subs = discover(folder, exercise.name, book)
    seed = new_seed() if args.seed is None else args.seed
    timed = timed_checks(check_categories(exercise), only, skip)
    untimed_skip = sorted(set(skip or ()) | {c for c in TIMED_CATEGORIES if timed})
    options_key = json.dumps([exercise.name, only, skip, args.thorough, args.device, args.seed],
                             sort_keys=True)
    version = kit_version()
    cache_path = book / "cache.json"
    cache = _read_cache(cache_path)

    for sub in subs:
        if sub.graded is None:
            sub.report = synthetic_report(exercise.name, sub.name, seed, "error", sub.problem, 0.0)
            sub.outcome = "no cell"
            continue
        sub.digest = hashlib.sha256(sub.graded.read_bytes()).hexdigest()
        sub.key = hashlib.sha256(f"{sub.digest}|{version}|{options_key}".encode()).hexdigest()
        entry = cache.get(sub.name)
        if not args.force and entry and entry.get("key") == sub.key:
            try:
                sub.report = json.loads((book / f"{sub.name}.json").read_text(encoding="utf-8"))
                sub.outcome = outcome_word(sub.report)
                sub.cached = True
            except (OSError, ValueError):
                sub.report = None

    todo = [s for s in subs if s.report is None]
    by_name = {s.name: s for s in subs}
    out = console()
    err = console(stderr=True)
    parallel = min(args.jobs or _cores(), max(1, len(todo)))
    env = grade_environment({"PYTHONDONTWRITEBYTECODE": "1"})  # no sibling writes a .pyc mid-grading
    untimed_env = dict(env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1") if parallel > 1 else env
    cached_count = len(subs) - len(todo) - sum(s.outcome == "no cell" for s in subs)
    err.print(f"{exercise.name}: {len(subs)} files in {folder}, {len(todo)} to grade"
              + (f" ({cached_count} unchanged since the last batch)" if cached_count else "")
              + f" · seed {seed} · {parallel} at a time" + (f", then {', '.join(timed)} one at a time"
                                                            if timed and todo else ""))

    interrupted = False
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=False) as bar:
        untimed_task = bar.add_task("untimed checks", total=len(todo))
        timed_task = bar.add_task("timed checks, one at a time", total=len(todo) if timed else 0,
                                  visible=bool(timed and todo))

        def untimed_done(name, outcome):
            sub = by_name[name]
            sub.report = _report_of(exercise.name, sub, outcome, seed)
            sub.outcome = outcome_word(sub.report)
            bar.advance(untimed_task)
            if not timed or sub.outcome in ("crash", "timeout"):
                sub.complete = True
                if timed:
                    bar.advance(timed_task)
                _summary_line(bar, sub)

        def timed_done(name, outcome):
            sub = by_name[name]
            sub.report = merge_timed(sub.report, outcome, timed, exercise.name)
            sub.outcome = outcome_word(sub.report)
            sub.complete = True
            bar.advance(timed_task)
            _summary_line(bar, sub)

        try:
            jobs = [(s.name, grade_arguments(exercise.name, s.graded, device=args.device, seed=seed,
                                             thorough=args.thorough, only=only, skip=untimed_skip))
                    for s in todo]
            run_gradings(jobs, parallel, args.timeout, untimed_env, on_done=untimed_done)
            if timed:
                jobs = [(s.name, grade_arguments(exercise.name, s.graded, device=args.device, seed=seed,
                                                 thorough=args.thorough, only=timed))
                        for s in todo if s.outcome not in ("crash", "timeout")]
                run_gradings(jobs, 1, args.timeout, env, on_done=timed_done)
        except KeyboardInterrupt:
            interrupted = True

    for sub in subs:
        if sub.report is None:   # interrupted before its grading ended
            sub.report = synthetic_report(exercise.name, sub.name, seed, "skipped",
                                          "not graded: the batch was interrupted", 0.0)
            sub.outcome = "not graded"
        elif not (sub.cached or sub.complete or sub.outcome == "no cell"):
            sub.report["checks"].append({"name": "timed_checks", "category": "speed", "status": "skipped",
                                         "message": "not run: the batch was interrupted",
                                         "duration_s": 0.0})
            sub.report["passed"] = False
            sub.outcome = outcome_word(sub.report)
        sub.report["file"] = sub.name
        if not sub.cached:
            write_atomically(book / f"{sub.name}.json", json.dumps(sub.report, indent=1) + "\n")
    write_atomically(folder / "gradebook.csv", gradebook_csv(subs))
    new_cache = {s.name: {"key": s.key, "sha256": s.digest, "kit": version}
                 for s in subs if s.key and s.outcome in ("passed", "failed") and not _incomplete(s.report)}
    write_atomically(cache_path, json.dumps({"format": CACHE_FORMAT, "files": new_cache}, indent=1) + "\n")
    if interrupted:
        err.print(f"grade: batch interrupted; the files graded so far are in {folder / 'gradebook.csv'}")
        return 130
    show_summary(out, [({"file": s.name, "result": s.outcome}, s.report) for s in subs])
    out.print(f"gradebook: {folder / 'gradebook.csv'} · reports: {book}{os.sep}")
    return 0 if all(s.outcome == "passed" for s in subs) else 1


def _incomplete(report: dict) -> bool:
    """A report with a stopped or crashed phase is graded again next time."""
    return any(c["name"] in ("grading", "timed_checks") for c in report["checks"])


def _summary_line(bar, sub) -> None:
    checks = sub.report["checks"]
    passed = sum(c["status"] == "passed" for c in checks)
    word = {"passed": "PASS", "failed": "FAIL", "crash": "CRASH", "timeout": "TIMEOUT"}.get(sub.outcome,
                                                                                          sub.outcome)
    bar.console.print(f"  {word:<7} {sub.name}  {passed}/{len(checks)} checks · "
                      f"{float(sub.report.get('duration_s', 0)):.1f} s", highlight=False)


def _report_of(exercise: str, sub: Submission, outcome: Outcome, seed) -> dict:
    if outcome.report is not None:
        return dict(outcome.report)
    status = "timeout" if outcome.status == "timeout" else "error"
    return synthetic_report(exercise, sub.name, seed, status, outcome.message, outcome.duration_s)


def _read_cache(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") == CACHE_FORMAT and isinstance(doc.get("files"), dict):
            return doc["files"]
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
