"""`grade list`: every exercise with the learner's status."""

from __future__ import annotations

import json
import sys

from rich.table import Table
from rich.text import Text

from grader import progress
from grader.i18n import t
from grader.catalog import recommended_order
from grader.commands._common import all_exercises, console, when_text

NAME = "list"
HELP = "list the exercises in the recommended order with your status: not started, attempted, passed"

STYLES = {"not started": "dim", "attempted": "yellow", "passed": "green"}


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")


def rows() -> list[dict]:
    exercises = recommended_order(all_exercises())
    progress.snapshot_stubs(exercises)
    data = progress.read()
    out = []
    for exercise in exercises:
        ex = data["exercises"].get(exercise.name, {})
        best = ex.get("best_score")
        out.append({"name": exercise.name, "order": exercise.order, "title": exercise.title,
                    "difficulty": exercise.difficulty, "topics": exercise.topics,
                    "estimated_minutes": exercise.minutes, "status": progress.status(ex),
                    "best_score": best, "attempts": int(ex.get("attempts_total", 0)),
                    "last_attempt": ex.get("last_attempt"),
                    "hints_shown": int(ex.get("hints_shown", 0)),
                    "hints_total": len(exercise.hints)})
    return out


def run(args) -> int:
    table_rows = rows()
    if args.json:
        sys.stdout.write(json.dumps({"exercises": table_rows}) + "\n")
        return 0
    out = console()
    if not table_rows:
        out.print("No exercises found.")
        return 0
    table = Table(title="contrastive-kit exercises, in the recommended order", title_justify="left",
                  show_lines=True)
    table.add_column("#", justify="right", no_wrap=True)
    # never narrower than the longest exercise name: a name is what the learner types next
    table.add_column("exercise · title · topics", ratio=1,
                     min_width=max(len(row["name"]) for row in table_rows))
    table.add_column("level", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("best", justify="right", no_wrap=True)
    table.add_column("last attempt", no_wrap=True)
    for row in table_rows:
        best = "—" if row["best_score"] is None else f"{100 * row['best_score']:.0f}%"
        cell = Text(row["name"], style="bold")
        cell.append("\n" + row["title"])
        if row["topics"]:
            cell.append("\n" + t("list_separator").join(row["topics"]), style="dim")
        table.add_row(str(row["order"]) if row["order"] is not None else "—", cell,
                      row["difficulty"] or "—",
                      f"{row['estimated_minutes']} min" if row["estimated_minutes"] else "—",
                      Text(row["status"], style=STYLES[row["status"]]), best,
                      when_text(row["last_attempt"], short=True))
    out.print(table)
    passed = sum(r["status"] == "passed" for r in table_rows)
    upcoming = next((r["name"] for r in table_rows if r["status"] != "passed"), None)
    out.print(f"{passed} of {len(table_rows)} passed"
              + (f" · next: {upcoming} (`grade next`)" if upcoming else "")
              + " · `grade spec NAME` to read one, `grade NAME` to grade it")
    return 0
