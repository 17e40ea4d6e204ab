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

from grader.i18n import t
from grader.results import CheckResult, GradeReport, Status, category_rank

STYLES = {Status.PASSED: "green", Status.FAILED: "red", Status.ERROR: "red", Status.TIMEOUT: "yellow",
          Status.SKIPPED: "dim"}


def symbol(status: Status) -> tuple[str, str]:
    """The status word in the learner's language, and its style."""
    return t(f"status_{status.value}"), STYLES[status]
OUTPUT_SHOWN = 2000
OUTPUT_SHOWN_COMPACT = 400


def make_console(stderr: bool = False) -> Console:
    # rich turns colour off by itself when the stream is not a terminal. The stream is
    # bound now: a live console (progress while checks run) must keep writing to the
    # real stderr while the engine redirects sys.stderr around pytest.
    return Console(file=sys.stderr if stderr else None, stderr=stderr, highlight=False, soft_wrap=False)


def in_check_order(checks: list[CheckResult]) -> list[CheckResult]:
    """Checks by category (the order their dependencies run in), then as they ran."""
    return sorted(checks, key=lambda c: category_rank(c.category))


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
    console.print(Text(t("report_header", exercise=report.exercise, file=report.file,
                         device=report.device, seed=report.seed), style="bold"))
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
            _one_line(group, console, word=t("report_skipped"))
    if report.not_run:
        console.print(Text(t("report_not_run", count=report.not_run), style="yellow"))
    if not compact:
        for extra in report.extras:
            console.print(extra)
    _learner_output(report, console, plain, OUTPUT_SHOWN_COMPACT if compact else OUTPUT_SHOWN)
    _summary(report, console, compact)


def _names(group: list[CheckResult]) -> str:
    return ", ".join(f"{c.category} / {c.name}" for c in group)


def _lead(group: list[CheckResult], console: Console, plain: bool) -> None:
    first = group[0]
    word, style = symbol(first.status)
    body = Text()
    body.append(first.message or t("report_no_message"))
    if first.input:
        body.append("\n\n" + t("report_input") + "\n", style="bold")
        body.append(_indent(first.input))
    if first.replay:
        body.append("\n\n" + t("report_replay"), style="bold")
        body.append(first.replay)
    if len(group) > 1:
        body.append("\n\n" + t("report_same_failure"), style="bold")
        body.append(", ".join(c.name for c in group[1:]))
    title = f"{word}: {_names(group[:1])}  {t('report_likely_cause')}"
    _block(title, body, console, plain, style)


def _details(group: list[CheckResult], console: Console, plain: bool) -> None:
    first = group[0]
    word, style = symbol(first.status)
    body = Text(first.message or t("report_no_message"))
    if first.input:
        body.append("\n" + t("report_input") + " ", style="bold")
        body.append(first.input)
    _block(f"{word}: {_names(group)}", body, console, plain, style)


def _one_line(group: list[CheckResult], console: Console, word: str | None = None) -> None:
    first = group[0]
    label, style = (word, "dim") if word else symbol(first.status)
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
    table.add_column(t("report_col_category"), style="bold", no_wrap=True)
    table.add_column(t("report_col_check"), no_wrap=True)
    table.add_column(t("report_col_result"), overflow="fold")
    table.add_column(t("report_col_time"), justify="right", no_wrap=True)
    lead_names = {c.name for c in lead}
    for category, checks in report.by_category():
        for i, check in enumerate(checks):
            word, style = symbol(check.status)
            cell = Text(word, style=style)
            if check.status.is_bad:
                cell.append("  " + t("report_above" if check.name in lead_names else "report_below"),
                            style="default")
            elif check.message:
                cell.append(f"  {check.message.splitlines()[0]}", style="default")
            table.add_row(category if i == 0 else "", check.name, cell, f"{check.duration_s:.2f}s")
    console.print(table)


def _learner_output(report: GradeReport, console: Console, plain: bool, limit: int) -> None:
    if not report.learner_output_bytes:
        return
    shown = report.learner_output[:limit]
    cut = len(report.learner_output) > limit or report.learner_output_bytes > limit
    note = t("report_output_cut", shown=len(shown)) if cut else ""
    _block(t("report_output", bytes=report.learner_output_bytes, note=note), Text(shown), console,
           plain, "dim")


def _summary(report: GradeReport, console: Console, compact: bool) -> None:
    counts = report.counts()
    total = len(report.checks)
    parts = [t("report_checks_passed", passed=counts["passed"], total=total)]
    for key in ("failed", "error", "timeout", "skipped"):
        if counts[key]:
            parts.append(t(f"report_count_{key}", count=counts[key]))
    if compact:
        per = [f"{category} {sum(c.status is Status.PASSED for c in checks)}/{len(checks)}"
               for category, checks in report.by_category()]
        console.print(Text(" · ".join(per), style="dim"))
    console.print(Text(" · ".join(parts) + f" · {report.duration_s:.1f} s"))
    console.print(Text(t("report_passed") if report.passed else t("report_not_passed"),
                       style="bold green" if report.passed else "bold red"))
