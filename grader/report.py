"""The rich report of one grading (plain text when stdout is not a terminal)."""

from __future__ import annotations

import sys

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.results import GradeReport, Status

SYMBOLS = {
    Status.PASSED: ("PASS", "green"),
    Status.FAILED: ("FAIL", "red"),
    Status.ERROR: ("ERROR", "red"),
    Status.TIMEOUT: ("TIMEOUT", "yellow"),
    Status.SKIPPED: ("skip", "dim"),
}
OUTPUT_SHOWN = 2000


def make_console(stderr: bool = False) -> Console:
    # rich turns colour off by itself when the stream is not a terminal. The stream is
    # bound now: a live console (progress while checks run) must keep writing to the
    # real stderr while the engine redirects sys.stderr around pytest.
    return Console(file=sys.stderr if stderr else None, stderr=stderr, highlight=False, soft_wrap=False)


def render(report: GradeReport, console: Console) -> None:
    title = f"{report.exercise} · {report.file} · {report.device} · seed {report.seed}"
    table = Table(title=title, show_lines=False, expand=False, title_justify="left")
    table.add_column("category", style="bold")
    table.add_column("check")
    table.add_column("result")
    table.add_column("time", justify="right")
    for category, checks in report.by_category():
        for i, check in enumerate(checks):
            word, style = SYMBOLS[check.status]
            first_line = check.message.splitlines()[0] if check.message else ""
            cell = Text(word, style=style)
            if first_line:
                cell.append(f"  {first_line[:100]}", style="default")
            table.add_row(category if i == 0 else "", check.name, cell, f"{check.duration_s:.2f}s")
    console.print(table)

    details = [c for c in report.checks if c.status.is_bad and c.message]
    for check in details:
        console.print(Panel(Text(check.message), title=f"{check.category} / {check.name}",
                            title_align="left", border_style=SYMBOLS[check.status][1]))
    for extra in report.extras:
        console.print(extra)
    if report.learner_output_bytes:
        shown = report.learner_output[:OUTPUT_SHOWN]
        cut = len(report.learner_output) > OUTPUT_SHOWN or report.learner_output_bytes > OUTPUT_SHOWN
        note = f", the first {len(shown)} characters shown" if cut else ""
        console.print(Panel(Text(shown), title=f"output of your code ({report.learner_output_bytes} "
                            f"bytes{note})", title_align="left", border_style="dim"))
    counts = report.counts()
    total = len(report.checks)
    parts = [f"{counts['passed']}/{total} checks passed"]
    for key in ("failed", "error", "timeout", "skipped"):
        if counts[key]:
            parts.append(f"{counts[key]} {key}")
    verdict = Text("PASSED" if report.passed else "NOT PASSED",
                   style="bold green" if report.passed else "bold red")
    console.print(Group(Text(" · ".join(parts) + f" · {report.duration_s:.1f} s"), verdict))
