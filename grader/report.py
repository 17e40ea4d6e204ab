"""The report of one grading: the likely cause first, then the rest.

The first failure in check order (interface before correctness before speed, as the
checks depend on each other) is shown whole, with the input that shows it and the
command that replays it; the other failures follow, each distinct message once with
the names of every check that gave it. `compact` (watch, mock) keeps the others to one
line each. Text wraps and is never cut; off a terminal the report is plain text, with
no boxes or colour.
"""

from __future__ import annotations

import sys

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.results import CATEGORY_ORDER, CheckResult, GradeReport, Status

SYMBOLS = {
    Status.PASSED: ("PASS", "green"),
    Status.FAILED: ("FAIL", "red"),
    Status.ERROR: ("ERROR", "red"),
    Status.TIMEOUT: ("TIMEOUT", "yellow"),
    Status.SKIPPED: ("skip", "dim"),
}
OUTPUT_SHOWN = 2000
OUTPUT_SHOWN_COMPACT = 400


def make_console(stderr: bool = False) -> Console:
    # rich turns colour off by itself when the stream is not a terminal. The stream is
    # bound now: a live console (progress while checks run) must keep writing to the
    # real stderr while the engine redirects sys.stderr around pytest.
    return Console(file=sys.stderr if stderr else None, stderr=stderr, highlight=False, soft_wrap=False)


def in_check_order(checks: list[CheckResult]) -> list[CheckResult]:
    """Checks by category (the order their dependencies run in), then as they ran."""
    order = {name: i for i, name in enumerate(CATEGORY_ORDER)}
    return sorted(checks, key=lambda c: order.get(c.category, len(order)))


def failure_groups(report: GradeReport) -> list[list[CheckResult]]:
    """The bad checks, grouped by identical message (one cause said once), in check order."""
    groups: dict[str, list[CheckResult]] = {}
    for check in in_check_order([c for c in report.checks if c.status.is_bad]):
        groups.setdefault(check.message or check.name, []).append(check)
    return list(groups.values())


def skipped_groups(report: GradeReport) -> list[list[CheckResult]]:
    groups: dict[str, list[CheckResult]] = {}
    for check in in_check_order([c for c in report.checks if c.status is Status.SKIPPED]):
        groups.setdefault(check.message, []).append(check)
    return list(groups.values())


def render(report: GradeReport, console: Console, *, compact: bool = False) -> None:
    plain = not console.is_terminal
    console.print(Text(f"{report.exercise} · {report.file} · {report.device} · seed {report.seed}",
                       style="bold"))
    failures = failure_groups(report)
    if failures:
        _lead(failures[0], console, plain)
    if not compact:
        _table(report, console, plain, lead=failures[0] if failures else [])
    for group in failures[1:]:
        if compact:
            _one_line(group, console)
        else:
            _details(group, console, plain)
    for group in skipped_groups(report):
        if compact or len(group) > 1:
            _one_line(group, console, word="skipped")
    if report.not_run:
        console.print(Text(f"{report.not_run} checks not run: they need the problem above fixed first.",
                           style="yellow"))
    if not compact:
        for extra in report.extras:
            console.print(extra)
    _learner_output(report, console, plain, OUTPUT_SHOWN_COMPACT if compact else OUTPUT_SHOWN)
    _summary(report, console, compact)


def _names(group: list[CheckResult]) -> str:
    return ", ".join(f"{c.category} / {c.name}" for c in group)


def _lead(group: list[CheckResult], console: Console, plain: bool) -> None:
    first = group[0]
    word, style = SYMBOLS[first.status]
    body = Text()
    body.append(first.message or "(no message)")
    if first.input:
        body.append("\n\ninput:\n", style="bold")
        body.append(_indent(first.input))
    if first.replay:
        body.append("\n\nreplay: ", style="bold")
        body.append(first.replay)
    if len(group) > 1:
        body.append("\n\nsame failure in: ", style="bold")
        body.append(", ".join(c.name for c in group[1:]))
    title = f"{word}: {_names(group[:1])}  (likely cause: the first failure in check order)"
    _block(title, body, console, plain, style)


def _details(group: list[CheckResult], console: Console, plain: bool) -> None:
    first = group[0]
    word, style = SYMBOLS[first.status]
    body = Text(first.message or "(no message)")
    if first.input:
        body.append("\ninput: ", style="bold")
        body.append(first.input)
    _block(f"{word}: {_names(group)}", body, console, plain, style)


def _one_line(group: list[CheckResult], console: Console, word: str | None = None) -> None:
    first = group[0]
    label, style = (word, "dim") if word else SYMBOLS[first.status]
    line = Text(f"{label} ", style=style)
    line.append(f"{', '.join(c.name for c in group)}: ", style="bold")
    line.append((first.message or "").splitlines()[0] if first.message else "")
    console.print(line)


def _block(title: str, body: Text, console: Console, plain: bool, style: str) -> None:
    if plain:
        console.print(Text(title))
        console.print(Padding(body, (0, 0, 0, 2)))
    else:
        console.print(Panel(body, title=title, title_align="left", border_style=style))


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _table(report: GradeReport, console: Console, plain: bool, lead: list[CheckResult]) -> None:
    table = Table(box=None if plain else box.SIMPLE_HEAD, show_lines=False, expand=False,
                  pad_edge=False)
    table.add_column("category", style="bold", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result", overflow="fold")
    table.add_column("time", justify="right", no_wrap=True)
    lead_names = {c.name for c in lead}
    for category, checks in report.by_category():
        for i, check in enumerate(checks):
            word, style = SYMBOLS[check.status]
            cell = Text(word, style=style)
            if check.status.is_bad:
                cell.append("  (above)" if check.name in lead_names else "  (below)", style="default")
            elif check.message:
                cell.append(f"  {check.message.splitlines()[0]}", style="default")
            table.add_row(category if i == 0 else "", check.name, cell, f"{check.duration_s:.2f}s")
    console.print(table)


def _learner_output(report: GradeReport, console: Console, plain: bool, limit: int) -> None:
    if not report.learner_output_bytes:
        return
    shown = report.learner_output[:limit]
    cut = len(report.learner_output) > limit or report.learner_output_bytes > limit
    note = f", the first {len(shown)} characters shown" if cut else ""
    _block(f"output of your code ({report.learner_output_bytes} bytes{note})", Text(shown), console,
           plain, "dim")


def _summary(report: GradeReport, console: Console, compact: bool) -> None:
    counts = report.counts()
    total = len(report.checks)
    parts = [f"{counts['passed']}/{total} checks passed"]
    for key in ("failed", "error", "timeout", "skipped"):
        if counts[key]:
            parts.append(f"{counts[key]} {key}")
    if compact:
        per = [f"{category} {sum(c.status is Status.PASSED for c in checks)}/{len(checks)}"
               for category, checks in report.by_category()]
        console.print(Text(" · ".join(per), style="dim"))
    console.print(Text(" · ".join(parts) + f" · {report.duration_s:.1f} s"))
    console.print(Text("PASSED" if report.passed else "NOT PASSED",
                       style="bold green" if report.passed else "bold red"))
