"""How specs are shown: `grade spec`'s tables, and what a mock interview holds back.

Both run over every exercises/*/spec.md, so a new exercise is covered by adding it.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tomllib

import pytest
from rich.markdown import Markdown

from conftest import ROOT

from grader.commands.mock import FOLLOWUPS, followups, markdown_report
from grader.commands.spec import (HELD_BACK_HEADING, headings, protect_table_pipes,
                                  readable_markdown, split_for_mock)

SPECS = sorted((ROOT / "exercises").glob("*/spec.md"))


def spec_id(path):
    return path.parent.name


# ----------------------------------------------------------------------------- tables


def source_cells(row: str) -> list[str]:
    """The cells of a table row as its author meant them: a `|` inside a code span or
    inline math, or escaped as `\\|`, is part of the cell."""
    row = row.strip()
    cells, current, i = [], "", 0
    while i < len(row):
        ch = row[i]
        if ch == "\\" and i + 1 < len(row):
            current += row[i:i + 2]
            i += 2
        elif ch in "`$":
            run = re.match(r"`+" if ch == "`" else r"\$", row[i:]).group(0)
            end = row.find(run, i + len(run))
            if end < 0:
                current += run
                i += len(run)
            else:
                current += row[i:end + len(run)]
                i = end + len(run)
        elif ch == "|":
            cells.append(current)
            current = ""
            i += 1
        else:
            current += ch
            i += 1
    cells.append(current)
    if row.startswith("|"):
        cells = cells[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        cells = cells[:-1]
    return [c.strip() for c in cells]


def source_tables(text: str) -> list[list[list[str]]]:
    """Every table of a Markdown file: rows (header first, delimiter row left out) of cells."""
    lines, tables, in_fence, k = text.splitlines(), [], False, 0
    while k < len(lines):
        line = lines[k]
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        elif (not in_fence and "|" in line and k + 1 < len(lines)
              and re.fullmatch(r"\s*\|?(\s*:?-+:?\s*\|)+\s*(:?-+:?\s*)?\|?\s*", lines[k + 1])):
            rows = [source_cells(line)]
            k += 2
            while k < len(lines) and lines[k].strip():
                rows.append(source_cells(lines[k]))
                k += 1
            tables.append(rows)
            continue
        k += 1
    return tables


def rendered_tables(markdown: str) -> list[list[list[str]]]:
    """The tables as `grade spec` renders them (the parse rich's Markdown draws)."""
    tables, row = [], None
    for token in Markdown(readable_markdown(markdown)).parsed:
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close":
            tables[-1].append(row)
            row = None
    return tables


def code_spans(cell: str) -> list[str]:
    return [m.group(2).replace("\\|", "|") for m in re.finditer(r"(`+)(.+?)\1", cell)]


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_every_spec_table_renders_with_the_cells_of_its_source(spec):
    text = spec.read_text(encoding="utf-8")
    source = source_tables(text)
    rendered = rendered_tables(text)
    assert len(rendered) == len(source), "a table was lost or split"
    for t, (src, out) in enumerate(zip(source, rendered)):
        assert [len(r) for r in out] == [len(r) for r in src], f"table {t + 1} of {spec}"
        for src_row, out_row in zip(src, out):
            for src_cell, out_cell in zip(src_row, out_row):
                for span in code_spans(src_cell):  # a code span arrives whole, pipes and all
                    assert f"`{span}`" in out_cell.replace("\\|", "|"), (src_cell, out_cell)


def test_the_cells_the_issue_names_render_whole():
    """The three cells that were cut: found whole in the terminal output of `grade spec`."""
    wanted = {"info_nce": ("what the scores learn", "log p(k|q) - log p(k) up to a constant"),
              "nce_loss": ("what the scores learn", "log p(x|c)/p(x) up to a constant"),
              "contrastive_mnist": ("features_not_collapsed",
                                    "1 - |mean of the unit features|^2 >= 1e-3")}
    for name, (row_label, cell) in wanted.items():
        proc = subprocess.run([sys.executable, "-m", "grader", "spec", name], capture_output=True,
                              text=True, cwd=ROOT, env=dict(os.environ, COLUMNS="400"), timeout=60)
        assert proc.returncode == 0, proc.stderr
        row = next(line for line in proc.stdout.splitlines() if row_label in line)
        assert cell in row, row


def test_pipes_are_escaped_only_inside_code_spans_of_table_rows():
    lines = ["a `x|y` b | c", "|---|---|", "| `p|q` and \\| | ``a|`b`` |", "",
             "not a table: `x|y`", "```", "| `in|code` | x |", "|---|---|", "```"]
    out = protect_table_pipes(lines)
    assert out[0] == "a `x\\|y` b | c"
    assert out[2] == "| `p\\|q` and \\| | ``a\\|`b`` |"
    assert out[4:] == lines[4:]  # prose and code blocks are left alone
    assert [len(r) for r in rendered_tables("\n".join(lines))[0]] == [2, 2]


def test_inline_math_with_a_pipe_stays_in_its_cell():
    table = "| a | b |\n|---|---|\n| $p(k \\mid q)$ and $|x|$ | two |\n"
    assert [len(r) for r in rendered_tables(table)[0]] == [2, 2]
    assert rendered_tables(table)[0][1][1] == "two"


# ----------------------------------------------------------------------------- the mock's view


def nonblank(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_mock_view_of_every_spec_holds_back_follow_ups_answers_and_solutions(spec):
    text = spec.read_text(encoding="utf-8")
    shown, held = split_for_mock(text)
    shown_headings = [h for _, h in headings(shown.splitlines()).values()]
    all_headings = [h for _, h in headings(text.splitlines()).values()]
    # nothing lost, nothing doubled: shown and held-back lines are the spec's lines, in order
    held_lines = [line for part in held for line in nonblank(part["text"])]
    assert sorted(nonblank(shown) + held_lines) == sorted(nonblank(text))
    # the title, the contract, the math and the worked example stay
    assert shown_headings[0] == all_headings[0]
    for heading in all_headings:
        if re.search(r"contract|math|worked example|shapes|grader checks", heading, re.I):
            assert heading in shown_headings, heading
    # no follow-ups, answers or pointers to solutions before the end
    assert not [h for h in shown_headings[1:] if HELD_BACK_HEADING.search(h)]
    assert not re.search(r"follow-up question|good answer|solutions/", shown, re.I)
    assert all(part["text"].strip() for part in held)
    # what the mock shows still renders: no code block cut in half
    assert shown.count("```") % 2 == 0
    for part in held:
        assert part["text"].count("```") % 2 == 0


def test_nt_xent_mock_view_keeps_the_big_follow_up_for_the_report():
    shown, held = split_for_mock((ROOT / "exercises" / "nt_xent" / "spec.md").read_text())
    held_text = "".join(p["text"] for p in held)
    for needle in ("## Follow-up questions an interviewer may ask", "### The big follow-up",
                   "What a good answer contains", "solutions/nt_xent_fast.py"):
        assert needle in held_text and needle not in shown
    assert "## A tiny worked example" in shown and "## The math" in shown


def test_held_back_sections_are_found_by_heading_in_any_spec():
    spec = "\n".join([
        "Title in setext", "===============", "", "Intro; see the `solutions` idea.", "",
        "## Contract", "", "def f(x): ...", "", "```python", "# Follow-up questions (a comment)",
        "```", "",
        "The reference is in `solutions/f.py` for later.", "",
        "**What a good answer contains:**", "", "- secret one", "",
        "## The math", "", "x = y", "",
        "Interview questions", "-------------------", "", "- fine to show", "",
        "## Model answers", "", "- secret two", "", "### Deeper", "", "- secret three", "",
        "## Grading", "", "- visible", "", "Discussion with the interviewer", "---", "",
        "- secret four", "", "# Solutions", "", "secret five", ""])
    shown, held = split_for_mock(spec)
    for secret in ("secret one", "secret two", "secret three", "secret four", "secret five",
                   "solutions/f.py"):
        assert secret in "".join(p["text"] for p in held) and secret not in shown, secret
    for visible in ("Title in setext", "Intro; see the `solutions` idea.", "## Contract",
                    "# Follow-up questions (a comment)", "x = y", "Interview questions",
                    "- fine to show", "## Grading", "- visible"):
        assert visible in shown, visible
    assert {p["heading"] for p in held} >= {"Contract", "Model answers", "Deeper",
                                            "Discussion with the interviewer", "Solutions"}


def test_a_spec_without_headings_or_follow_ups_is_shown_whole():
    assert split_for_mock("just text\n\nmore | text\n") == ("just text\n\nmore | text\n", [])
    assert split_for_mock("") == ("\n", [])


# ----------------------------------------------------------------------------- follow-ups


def test_each_mock_mixes_one_generic_follow_up_into_its_own():
    data = tomllib.loads(FOLLOWUPS.read_text(encoding="utf-8"))
    generic = {q["question"] for q in data["generic"]}
    assert len(generic) >= 3
    for name in sorted(set(data) - {"generic"}):
        own = {q["question"] for q in data[name]}
        seen_generic = set()
        for seed in range(40):
            picked = followups(name, random.Random(seed))
            kinds = [q["kind"] for q in picked]
            assert kinds == ["exercise"] * min(2, len(own)) + ["generic"] * (3 - min(2, len(own)))
            assert len({q["question"] for q in picked}) == len(picked)
            assert all(q["notes"] for q in picked)
            for q in picked:
                assert q["question"] in (own if q["kind"] == "exercise" else generic)
            seen_generic |= {q["question"] for q in picked if q["kind"] == "generic"}
        assert seen_generic == generic, name  # every generic one comes up
    # an exercise without its own list gets generic ones only
    assert [q["kind"] for q in followups("no_such_exercise", random.Random(0))] == ["generic"] * 3


def test_report_holds_the_held_back_sections_with_their_headings_nested():
    _, held = split_for_mock((ROOT / "exercises" / "nt_xent" / "spec.md").read_text())
    doc = {"exercise": "nt_xent", "title": "t", "started": "s", "ended_at": "e", "ended": "time up",
           "time_used_s": 60, "budget_s": 60, "file": "stub.py", "attempts": [],
           "hints_used": 0, "hints_revealed_total": 0, "hints_available": 4, "seed": 1,
           "device": "cpu", "categories_first_passed": {}, "final_grading": None,
           "follow_up_questions": [{"question": "Q?", "notes": "N", "kind": "generic"}],
           "spec_held_back": held}
    md = markdown_report(doc)
    assert "## From the spec, held back during the interview" in md
    assert "### Follow-up questions an interviewer may ask" in md
    assert "#### The big follow-up" in md and "solutions/nt_xent_fast.py" in md
    assert "\n## Follow-up questions an interviewer may ask" not in md
