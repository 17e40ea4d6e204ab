"""`grade progress`: totals and a per-exercise history."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

from grader import progress as state
from grader.catalog import load_exercise
from grader.commands._common import all_exercises, console, duration_text, when_text

NAME = "progress"
HELP = "your progress: totals, per-exercise history, quiz results and mock interviews"

STYLES = {"not started": "dim", "attempted": "yellow", "passed": "green"}


def add_arguments(parser) -> None:
    parser.add_argument("exercise", nargs="?", help="show every recorded attempt of this exercise")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")


def exercise_rows(data: dict) -> list[dict]:
    rows = []
    exercises = {e.name: e for e in all_exercises()}
    for name in sorted(set(exercises) | set(data["exercises"])):
        ex = data["exercises"].get(name, {})
        exercise = exercises.get(name)
        rows.append({
            "name": name, "status": state.status(ex),
            "attempts": int(ex.get("attempts_total", len(ex.get("attempts", [])))),
            "best_score": ex.get("best_score"),
            "first_attempt": ex.get("first_attempt"), "last_attempt": ex.get("last_attempt"),
            "first_pass": ex.get("first_pass"),
            "time_to_first_pass_s": state.time_to_first_pass(ex),
            "attempts_to_first_pass": ex.get("attempts_to_first_pass"),
            "hints_used": int(ex.get("hints_shown", 0)),
            "hints_total": len(exercise.hints) if exercise else None,
            "resets": int(ex.get("resets", 0)),
            "solution_seen": ex.get("solution_seen"),
            "solution_seen_before_pass": bool(ex.get("solution_seen_before_pass", False)),
            "in_kit": exercise is not None,
        })
    return rows


def solution_text(row: dict) -> Text:
    """Whether the reference was seen: '—', 'seen', or 'seen before pass' (grade solution --force)."""
    if not row["solution_seen"]:
        return Text("—")
    if row["solution_seen_before_pass"]:
        return Text("seen before pass", style="yellow")
    return Text("seen")


def quiz_summary(data: dict) -> dict:
    sessions = data["quiz"]["sessions"]
    asked = sum(int(s.get("asked", 0)) for s in sessions)
    correct = sum(int(s.get("correct", 0)) for s in sessions)
    by_topic: dict[str, list[int]] = {}
    for s in sessions:
        for a in s.get("answers", []):
            topic = a.get("topic", "?")
            slot = by_topic.setdefault(topic, [0, 0])
            slot[0] += 1 if a.get("correct") else 0
            slot[1] += 1
    return {"sessions": len(sessions), "asked": asked, "correct": correct,
            "by_topic": {t: {"correct": c, "asked": n} for t, (c, n) in sorted(by_topic.items())}}


def document(data: dict) -> dict:
    rows = exercise_rows(data)
    in_kit = [r for r in rows if r["in_kit"]]
    return {
        "state_file": str(state.state_path()),
        "totals": {"exercises": len(in_kit),
                   "passed": sum(r["status"] == "passed" for r in in_kit),
                   "attempted": sum(r["status"] == "attempted" for r in in_kit),
                   "attempts": sum(r["attempts"] for r in rows),
                   "hints_used": sum(r["hints_used"] for r in rows),
                   "solutions_seen_before_pass": sum(r["solution_seen_before_pass"] for r in rows),
                   "mock_interviews": len(data["mocks"])},
        "exercises": rows,
        "quiz": quiz_summary(data),
        "mocks": data["mocks"],
    }


def show_history(out, data: dict, name: str) -> None:
    ex = data["exercises"].get(name, {})
    attempts = ex.get("attempts", [])
    if not attempts:
        out.print(f"No attempts recorded for {name} yet.")
        return
    table = Table(title=f"{name}: every recorded attempt", title_justify="left")
    for column in ("#", "when", "mode", "result", "checks", "categories"):
        table.add_column(column, justify="right" if column == "#" else "left")
    first = int(ex.get("attempts_total", len(attempts))) - len(attempts)
    for i, a in enumerate(attempts, start=first + 1):
        result = Text("PASS", style="green") if a.get("passed") else Text("fail", style="red")
        if a.get("filtered"):
            result.append(" (filtered)", style="dim")
        try:
            cats = " ".join(f"{c} {p}/{t}" for c, (p, t) in a.get("categories", {}).items())
        except (AttributeError, TypeError, ValueError):
            cats = "?"
        table.add_row(str(i), when_text(a.get("at")), str(a.get("mode", "")), result,
                      f"{a.get('passed_checks', 0)}/{a.get('total_checks', 0)}", cats)
    out.print(table)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def run(args) -> int:
    if args.exercise:
        load_exercise(args.exercise)  # a usage error for an unknown name
    data = state.read()
    doc = document(data)
    if args.json:
        if args.exercise:
            doc["history"] = data["exercises"].get(args.exercise, {}).get("attempts", [])
        sys.stdout.write(json.dumps(doc) + "\n")
        return 0
    out = console()
    if args.exercise:
        show_history(out, data, args.exercise)
        return 0
    t = doc["totals"]
    quiz = doc["quiz"]
    out.print(f"Passed {t['passed']} of {t['exercises']} exercises, {t['attempted']} more started "
              f"and not passed yet · {_count(t['attempts'], 'grading')} · {_count(t['hints_used'], 'hint')} "
              "used · "
              + (f"{_count(t['solutions_seen_before_pass'], 'solution')} seen before passing · "
                 if t["solutions_seen_before_pass"] else "")
              + f"{_count(t['mock_interviews'], 'mock interview')} · quiz {quiz['correct']}/"
              f"{quiz['asked']} correct in {_count(quiz['sessions'], 'session')}")
    table = Table(title="per exercise", title_justify="left")
    table.add_column("exercise", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("tries", justify="right")
    table.add_column("best", justify="right")
    table.add_column("first pass")
    table.add_column("hints", justify="right")
    table.add_column("solution", no_wrap=True)
    table.add_column("last try", no_wrap=True)
    for r in doc["exercises"]:
        best = "—" if r["best_score"] is None else f"{100 * r['best_score']:.0f}%"
        hints = str(r["hints_used"]) + (f"/{r['hints_total']}" if r["hints_total"] else "")
        first = "—"
        if r["first_pass"]:
            first = (f"after {duration_text(r['time_to_first_pass_s'])}, "
                     f"try {r['attempts_to_first_pass'] or '?'}")
        table.add_row(r["name"] + ("" if r["in_kit"] else " (gone)"),
                      Text(r["status"], style=STYLES[r["status"]]), str(r["attempts"]), best,
                      first, hints, solution_text(r), when_text(r["last_attempt"], short=True))
    out.print(table)
    if quiz["by_topic"]:
        qt = Table(title="quiz by topic", title_justify="left")
        qt.add_column("topic")
        qt.add_column("correct", justify="right")
        for topic, v in quiz["by_topic"].items():
            qt.add_row(topic, f"{v['correct']}/{v['asked']}")
        out.print(qt)
    if doc["mocks"]:
        mt = Table(title="mock interviews", title_justify="left")
        for column in ("when", "exercise", "time used", "attempts", "result", "report"):
            mt.add_column(column)
        for m in doc["mocks"][-10:]:
            mt.add_row(when_text(m.get("started"), short=True), str(m.get("exercise", "")),
                       duration_text(m.get("time_used_s")), str(m.get("attempts", "")),
                       "passed" if m.get("passed") else str(m.get("ended", "")),
                       Path(str(m.get("report_md", ""))).name)
        out.print(mt)
    out.print(f"`grade progress NAME` lists every attempt of one exercise · state: {doc['state_file']}")
    return 0
