"""`grade mock`: a timed mock interview on one exercise, with a written report.

The learner edits the exercise's file; every save is graded, but only each
category's pass count is shown (as an interviewer would keep the hidden checks
to themselves). The spec is shown without its follow-up questions, their answers
and its pointers to solutions: those are for the end. At the end (time up, every
check passed, or Ctrl-C) the file is graded once more in full, unless it has not
changed since the last grading, whose report is then reused, and a report is
written to mock-reports/<timestamp>.md and .json, with the follow-up questions.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import tomllib
from pathlib import Path

from rich.live import Live
from rich.markdown import Markdown
from rich.rule import Rule
from rich.text import Text

from grader import progress
from grader.i18n import localized, localized_in, t
from grader.catalog import UsageError, find_workspace, learner_file, load_exercise
from grader.commands.spec import headings, readable_markdown, split_for_mock
from grader.commands._common import (Stopper, add_selection_arguments, all_exercises, category_counts,
                                     clock_text, console, counts_text, file_signature, grade_options, names,
                                     positive_float, sigint_ignored)

NAME = "mock"
HELP = "a timed mock interview: countdown, re-grading on save with hidden details, a report at the end"

FOLLOWUPS = Path(__file__).resolve().parent.parent / "quiz" / "followups.toml"


class Clock:
    """Seconds since the interview started; ``speed`` > 1 makes time pass faster (tests)."""

    def __init__(self, speed: float = 1.0):
        self.speed = speed
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return (time.monotonic() - self.start) * self.speed


def add_arguments(parser) -> None:
    parser.add_argument("--minutes", type=positive_float, default=45.0,
                        help="length of the interview (default 45)")
    parser.add_argument("--exercise", help="the exercise (default: one you have not passed yet)")
    add_selection_arguments(parser, seed_help="seed for the choice of exercise and for every grading",
                            hidden_selection=True)
    # for tests and scripts
    parser.add_argument("--verbose", action="store_true",
                        help="the final report with every check in full (default: the compact report)")
    parser.add_argument("--clock-speed", type=positive_float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=positive_float, default=0.5, help=argparse.SUPPRESS)
    parser.add_argument("--reports-dir", type=Path, help=argparse.SUPPRESS)


def choose_exercise(args, rng: random.Random):
    if args.exercise:
        return load_exercise(args.exercise), None
    exercises = all_exercises()
    if not exercises:
        raise UsageError("there are no exercises to interview on")
    data = progress.read()
    open_ones = [e for e in exercises
                 if progress.status(data["exercises"].get(e.name)) != "passed"]
    if open_ones:
        return rng.choice(open_ones), None
    return rng.choice(exercises), t("mock_note_all_passed")


def followups(name: str, rng: random.Random, own_count: int = 2,
              generic_count: int = 1) -> list[dict]:
    """The interview's follow-up questions: ``own_count`` of the exercise's own, then
    ``generic_count`` of the generic ones (scaling, false negatives, verification),
    more generic ones where the exercise has too few of its own."""
    try:
        data = tomllib.loads(localized_in(FOLLOWUPS).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}

    def usable(items):
        return [q for q in items if isinstance(q, dict) and isinstance(q.get("question"), str)]

    own = usable(data.get(name, []))
    generic = usable(data.get("generic", []))
    picked = [("exercise", q) for q in rng.sample(own, min(own_count, len(own)))]
    wanted = own_count + generic_count - len(picked)
    picked += [("generic", q) for q in rng.sample(generic, min(wanted, len(generic)))]
    return [{"question": q["question"], "notes": q.get("notes", ""), "kind": kind}
            for kind, q in picked]


class Display:
    """The countdown: a live status line in a terminal, periodic lines otherwise."""

    def __init__(self, out, clock: Clock, budget: float, exercise: str):
        self.out, self.clock, self.budget, self.exercise = out, clock, budget, exercise
        self.status = t("mock_status_first_save")
        self.attempts = 0
        self.live = None
        self.last_minute = None

    def left(self) -> float:
        return max(0.0, self.budget - self.clock.elapsed())

    def line(self) -> Text:
        text = Text(t("mock_countdown", left=clock_text(self.left())), style="bold")
        attempts = t("mock_attempts_one" if self.attempts == 1 else "mock_attempts_many",
                     count=self.attempts)
        text.append(t("mock_countdown_rest", exercise=self.exercise, attempts=attempts,
                      status=self.status))
        return text

    def start(self) -> None:
        if self.out.is_terminal:
            self.live = Live(console=self.out, get_renderable=self.line, refresh_per_second=2,
                             redirect_stdout=False, redirect_stderr=False, transient=True)
            self.live.start()
        else:
            self.tick(force=True)

    def tick(self, force: bool = False) -> None:
        """Outside a terminal: one 'time left' line per elapsed minute."""
        if self.live is not None:
            return
        minute = int(self.left() // 60)
        if force or minute != self.last_minute:
            self.last_minute = minute
            self.out.print(t("mock_time_left", left=clock_text(self.left())))
            sys.stdout.flush()

    def event(self, text: str) -> None:
        self.out.print(t("mock_event", left=clock_text(self.left()), text=text))
        sys.stdout.flush()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def report_paths(folder: Path) -> tuple[Path, Path]:
    base = progress.stamp()
    n = 1
    while True:
        stem = base if n == 1 else f"{base}-{n}"
        md, js = folder / f"{stem}.md", folder / f"{stem}.json"
        if not md.exists() and not js.exists():
            return md, js
        n += 1


def markdown_report(doc: dict) -> str:
    lines = ["# " + t("mock_md_title", exercise=doc["exercise"], title=doc["title"]), ""]
    lines += ["- " + t("mock_md_started", at=doc["started"]),
              "- " + t("mock_md_ended", at=doc["ended_at"], ended=ended_text(doc["ended"])),
              "- " + t("mock_md_time_used", used=clock_text(doc["time_used_s"]),
                       budget=clock_text(doc["budget_s"])),
              "- " + t("mock_md_file", file=doc["file"]),
              "- " + t("mock_md_attempts", count=len(doc["attempts"])),
              "- " + t("mock_md_hints", used=doc["hints_used"], revealed=doc["hints_revealed_total"],
                       available=doc["hints_available"]),
              "- " + t("mock_md_seed", seed=doc["seed"], device=doc["device"])]
    if doc.get("clock_speed", 1.0) != 1.0:
        lines.append("- " + t("mock_md_clock_speed", speed=doc["clock_speed"]))
    final = doc.get("final_grading")
    verdict = (t("mock_md_no_final") if final is None
               else t("report_passed" if final["passed"] else "report_not_passed"))
    lines += ["- " + t("mock_md_result", verdict=verdict), "", "## " + t("mock_md_first_passed"), "",
              t("mock_md_first_passed_columns"), "|---|---|---|"]
    for category, first in doc["categories_first_passed"].items():
        if first is None:
            lines.append(f"| {category} | {t('mock_md_not_passed')} | — |")
        else:
            lines.append(f"| {category} | {clock_text(first['at_s'])} | {first['attempt']} |")
    lines += ["", "## " + t("mock_md_attempts_heading"), ""]
    if doc["attempts"]:
        lines += [t("mock_md_attempts_columns"), "|---|---|---|---|"]
        for a in doc["attempts"]:
            cats = " · ".join(f"{c} {p}/{n}" for c, (p, n) in a["categories"].items())
            lines.append(f"| {a['n']} | {clock_text(a['at_s'])} | "
                         f"{a['passed_checks']}/{a['total_checks']} | {cats} |")
    else:
        lines.append(t("mock_md_no_attempt"))
    lines += ["", "## " + t("mock_md_final_heading"), ""]
    if final is None:
        lines.append(t("mock_md_final_not_run"))
    else:
        passed = sum(c["status"] == "passed" for c in final["checks"])
        lines += [t("report_checks_passed", passed=passed, total=len(final["checks"])) + f" · {verdict}",
                  "", t("mock_md_final_columns"), "|---|---|---|---|"]
        for c in final["checks"]:
            message = (c["message"].splitlines() or [""])[0].replace("|", "\\|")[:200]
            lines.append(f"| {c['category']} | {c['name']} | {c['status']} | {message} |")
    lines += ["", "## " + t("mock_md_followups_heading"), ""]
    for i, q in enumerate(doc["follow_up_questions"], start=1):
        lines.append(f"{i}. {q['question']}")
        if q.get("notes"):
            lines.append("   - " + t("mock_md_good_answer", notes=q["notes"]))
    held = doc.get("spec_held_back") or []
    if held:
        lines += ["", "## " + t("mock_md_held_back_heading"), "", t("mock_md_held_back_intro"), ""]
        for part in held:
            if not headings(part["text"].splitlines()):
                lines += [t("mock_md_from_section", heading=part["heading"]), ""]
            lines += [demote_headings(part["text"]).rstrip("\n"), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


ENDED = {"time up": "mock_ended_time_up", "ended early (Ctrl-C)": "mock_ended_ctrl_c",
         "all checks passed": "mock_ended_all_passed"}


def ended_text(ended: str) -> str:
    """How the interview ended, in the learner's language (the JSON report keeps the English)."""
    return t(ENDED[ended]) if ended in ENDED else ended


def demote_headings(text: str, by: int = 1) -> str:
    """Markdown with every heading `by` levels deeper (at most 6), to nest it in the report."""
    lines = text.splitlines()
    marks = headings(lines)
    out = []
    for k, line in enumerate(lines):
        if k in marks:
            level, heading = marks[k]
            out.append("#" * min(6, level + by) + " " + heading)
        elif k - 1 in marks and re.fullmatch(r" {0,3}(=+|-+)[ \t]*", line):
            continue  # a setext underline: the heading above is now an ATX one
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def run(args) -> int:
    session = Interview(args)
    out = session.out
    exercise = session.exercise
    try:
        spec_text = localized(exercise.spec).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        spec_text = t("mock_spec_unreadable", exercise=exercise.name,
                      why=getattr(exc, "strerror", None) or exc) + "\n"
    out.print(Rule(t("mock_title", exercise=exercise.name, budget=clock_text(session.budget))))
    if session.note:
        out.print(t("mock_note", note=session.note))
    shown, session.held_back = split_for_mock(spec_text)
    out.print(Markdown(readable_markdown(shown), code_theme="ansi_dark", hyperlinks=False))
    if session.held_back:
        out.print(Text(t("mock_held_back"), style="dim"))
    pristine, _ = progress.pristine_stub(exercise, session.path)
    current = session.path.read_bytes() if session.path.exists() else b""
    if pristine is not None and current != pristine.encode("utf-8"):
        out.print(t("mock_stub_changed", file=session.shown_path, exercise=exercise.name))
    out.print(Rule())
    with Stopper() as stop:  # from here on, Ctrl-C ends the interview, which still reports
        session.stop = stop
        try:
            session.loop()
        except KeyboardInterrupt:
            stop.stopped = True
            session.ended = "ended early (Ctrl-C)"
        finally:
            session.display.stop()
        try:
            session.final_grading()
        except KeyboardInterrupt:  # a second Ctrl-C skips the final grading
            session.final = session.last_report
        with sigint_ignored():  # the report must not be lost halfway
            return session.finish()


class Interview:
    def __init__(self, args):
        from grader.engine import new_seed, validate_request  # imports torch: only when needed

        self.args = args
        self.seed = new_seed() if args.seed is None else args.seed
        self.rng = random.Random(self.seed)
        self.exercise, self.note = choose_exercise(args, self.rng)
        self.path = learner_file(self.exercise)
        if not self.path.is_file():
            raise UsageError(f"no such file: {self.path}")
        self.only, self.skip = names(args.only), names(args.skip)
        validate_request(self.exercise, self.only, self.skip)
        self.folder = args.reports_dir or (find_workspace() or Path.cwd()) / "mock-reports"
        try:  # fail now rather than after the interview
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the report folder {self.folder}: "
                             f"{exc.strerror or exc}") from None
        progress.snapshot_stubs([self.exercise])
        progress.touch(self.exercise.name)
        self.out = console()
        self.last_sig = file_signature(self.path)  # a save from now on is an attempt
        self.budget = args.minutes * 60.0
        self.shown_path = _show_path(self.path)
        self.hints_total = len(self.exercise.hints)
        self.hints_before = min(progress.hints_shown(self.exercise.name), self.hints_total)
        self.clock = Clock(args.clock_speed)
        self.display = Display(self.out, self.clock, self.budget, self.exercise.name)
        self.started_iso = progress.now_iso()
        self.ended_iso = None
        self.ended = "time up"
        self.time_used = 0.0
        self.attempts: list[dict] = []
        self.first_passed: dict[str, dict | None] = {}
        self.last_report, self.last_report_sig = None, None
        self.final = None
        self.final_from_attempt = None  # the attempt whose grading the final report reuses
        self.held_back: list[dict] = []
        self.stop = None

    def grade(self):
        from grader.engine import accepted_options, grade
        from grader.sandbox import WARM

        WARM.enabled = True   # the child for the next save is ready before it comes

        # The exercise may be drawn at random: --budget applies only where it is read.
        options = {key: value for key, value in grade_options(self.args).items()
                   if key in accepted_options(self.exercise)}
        return grade(self.exercise, self.path, device=self.args.device, seed=self.seed,
                     only=self.only, skip=self.skip, live=None, options=options)

    def loop(self) -> None:
        out, stop, args = self.out, self.stop, self.args
        out.print(t("mock_intro", file=self.shown_path, exercise=self.exercise.name))
        sys.stdout.flush()
        self.clock = self.display.clock = Clock(args.clock_speed)  # the countdown starts now
        self.started_iso = progress.now_iso()
        self.display.start()
        while True:
            if stop.stopped:
                self.ended = "ended early (Ctrl-C)"
                return
            if self.clock.elapsed() >= self.budget:
                self.ended = "time up"
                return
            self.display.tick()
            sig = file_signature(self.path)
            if sig is not None and sig != self.last_sig:
                stop.sleep(min(args.interval, 0.3))  # let the editor finish writing
                if stop.stopped or file_signature(self.path) != sig:
                    continue
                self.last_sig = sig
                at = round(min(self.clock.elapsed(), self.budget), 1)
                self.display.status = t("mock_status_grading", n=len(self.attempts) + 1)
                report = self.grade()
                if stop.stopped:  # Ctrl-C while the checks ran: that grading is incomplete
                    self.ended = "ended early (Ctrl-C)"
                    return
                self.attempt(report, sig, at)
                if report.passed:
                    self.ended = "all checks passed"
                    return
                self.display.status = t("mock_status_next_save")
            stop.sleep(args.interval)

    def attempt(self, report, sig, at: float) -> None:
        self.last_report, self.last_report_sig = report, sig
        summary = progress.summarize(report)
        n = len(self.attempts) + 1
        self.attempts.append({"n": n, "at_s": at, "passed": report.passed,
                              "passed_checks": summary["passed_checks"],
                              "total_checks": summary["total_checks"],
                              "categories": summary["categories"]})
        for category, p, total in category_counts(report):
            self.first_passed.setdefault(category, None)
            if p == total and self.first_passed[category] is None:
                self.first_passed[category] = {"at_s": at, "attempt": n}
        progress.record_grading(self.exercise, report, filtered=bool(self.only or self.skip),
                                mode="mock")
        self.display.attempts = n
        self.display.status = t("mock_status_last", passed=summary["passed_checks"],
                                total=summary["total_checks"])
        self.display.event(t("mock_attempt", n=n, counts=counts_text(report)))

    def final_grading(self) -> None:
        """The full grading at the end, outside the time budget."""
        stop = self.stop
        self.time_used = min(self.clock.elapsed(), self.budget)
        self.ended_iso = progress.now_iso()
        self.out.print(Rule(t("mock_over", ended=ended_text(self.ended),
                              used=clock_text(self.time_used))))
        sig = file_signature(self.path)
        if self.last_report is not None and sig == self.last_report_sig:
            # unchanged since its last full grading: the same seed would give the same report
            self.final = self.last_report
            self.out.print(t("mock_unchanged", n=len(self.attempts)))
            return
        if sig is None:
            self.final = self.last_report
            return
        self.out.print(t("mock_final_grading"))
        sys.stdout.flush()
        stop.stopped = False
        report = self.grade()
        self.final = self.last_report if stop.stopped else report
        if self.final is report:
            for category, p, total in category_counts(report):
                self.first_passed.setdefault(category, None)
                if p == total and self.first_passed[category] is None:
                    self.first_passed[category] = {"at_s": round(self.time_used, 1),
                                                   "attempt": "final"}
            progress.record_grading(self.exercise, report,
                                    filtered=bool(self.only or self.skip), mode="mock")

    def finish(self) -> int:
        from grader.report import render

        out, final = self.out, self.final
        if final is not None and final is self.last_report:
            self.final_from_attempt = len(self.attempts)
        if self.ended_iso is None:
            self.ended_iso = progress.now_iso()
            self.time_used = min(self.clock.elapsed(), self.budget)
        if final is not None:
            for category, _, _ in category_counts(final):
                self.first_passed.setdefault(category, None)
            # compact unless --verbose: the likely cause in full, the rest a line each
            render(final, out, compact=not self.args.verbose)
        hints_after = min(progress.hints_shown(self.exercise.name), self.hints_total)
        doc = {
            "exercise": self.exercise.name, "title": self.exercise.title,
            "file": self.shown_path, "seed": self.seed,
            "device": final.device if final is not None else self.args.device,
            "started": self.started_iso, "ended_at": self.ended_iso, "ended": self.ended,
            "budget_s": round(self.budget, 1), "time_used_s": round(self.time_used, 1),
            "clock_speed": self.args.clock_speed,
            "passed": bool(final is not None and final.passed),
            "attempts": self.attempts,
            "categories_first_passed": self.first_passed,
            "hints_used": max(0, hints_after - self.hints_before),
            "hints_revealed_total": hints_after, "hints_available": self.hints_total,
            "final_grading": final.to_json() if final is not None else None,
            "final_from_attempt": self.final_from_attempt,
            "follow_up_questions": followups(self.exercise.name, self.rng),
            "spec_held_back": self.held_back,
        }
        try:
            md_path, json_path = report_paths(self.folder)
            json_path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            md_path.write_text(markdown_report(doc), encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(t("error_prefix") + t("mock_cannot_write", folder=self.folder,
                                                   why=exc.strerror or exc) + "\n")
            sys.stdout.write(json.dumps(doc) + "\n")  # the report is not lost
            return 2
        progress.record_mock({"started": self.started_iso, "exercise": self.exercise.name,
                              "time_used_s": doc["time_used_s"], "budget_s": doc["budget_s"],
                              "attempts": len(self.attempts), "ended": self.ended,
                              "passed": doc["passed"], "hints_used": doc["hints_used"],
                              "report_md": str(md_path), "report_json": str(json_path)})
        out.print(t("mock_followups"))
        for i, q in enumerate(doc["follow_up_questions"], start=1):
            out.print(f"  {i}. {q['question']}")
        out.print(t("mock_report_holds_spec" if self.held_back else "mock_report_holds"))
        out.print(t("mock_report_written", md=md_path, json=json_path.name))
        return 0 if doc["passed"] else 1


def _show_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
