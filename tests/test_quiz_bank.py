"""The quiz banks (grader/quiz/*.toml but followups.toml) cannot be answered from the choices' form.

Every bank file in the folder is loaded, so a new bank is covered the day it is added. Over all
banks together, the correct choice may be the longest (ties count as longest) in at most 35% of
the questions, and no position (A, B, ...) may hold more than 40% of the correct answers. Each
file must parse with the quiz command's own parser, with valid answer letters, distinct choices
and ids unique across the banks (progress is recorded by id), and each explanation must name
every wrong choice by its letter, saying why it is wrong.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from grader.commands.quiz import NOT_BANKS, QUIZ_DIR, _parse_bank

MAX_LONGEST_SHARE = 0.35
MAX_POSITION_SHARE = 0.40
BANKS = sorted(p for p in QUIZ_DIR.glob("*.toml") if p.stem not in NOT_BANKS)
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _questions(path: Path) -> list[dict]:
    return tomllib.loads(path.read_text(encoding="utf-8")).get("questions", [])


def _flat(text: str) -> str:
    return " ".join(text.split())


def _all_questions() -> list[tuple[str, dict]]:
    return [(path.name, q) for path in BANKS for q in _questions(path)]


def test_the_banks_are_found():
    assert len(BANKS) >= 9 and all(p.name != "followups.toml" for p in BANKS)
    assert len(_all_questions()) >= 40


@pytest.mark.parametrize("path", BANKS, ids=lambda p: p.name)
def test_bank_structure(path):
    _parse_bank(path)  # the quiz command's own parser: raises on a malformed question
    questions = _questions(path)
    assert questions, f"{path.name} has no [[questions]]"
    for q in questions:
        where = f"{path.name}: {q.get('id')!r}"
        choices = q["choices"]
        assert isinstance(q.get("id"), str) and q["id"].strip(), where
        assert 2 <= len(choices) <= 6, f"{where}: {len(choices)} choices"
        letter = str(q["answer"]).strip().upper()
        assert len(letter) == 1 and letter in string.ascii_uppercase[:len(choices)], f"{where}: answer {letter!r}"
        assert len({_flat(c).lower() for c in choices}) == len(choices), f"{where}: two choices are the same"
        assert len(_flat(q["explanation"])) > 40, f"{where}: the explanation is too short"
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), f"{path.name}: repeated ids {[i for i, n in Counter(ids).items() if n > 1]}"


def test_ids_are_unique_across_banks():
    owners: dict[str, list[str]] = {}
    for name, q in _all_questions():
        owners.setdefault(q["id"], []).append(name)
    repeated = {i: names for i, names in owners.items() if len(names) > 1}
    assert not repeated, f"ids used more than once: {repeated}"


@pytest.mark.parametrize("path", BANKS, ids=lambda p: p.name)
def test_each_explanation_names_every_wrong_choice(path):
    """'B. ... A is wrong: ...': every wrong letter appears on its own in the explanation."""
    for q in _questions(path):
        letters = string.ascii_uppercase[:len(q["choices"])]
        right = str(q["answer"]).strip().upper()
        text = _flat(q["explanation"])
        missing = [x for x in letters if x != right and not re.search(rf"(?<![\w'-]){x}(?![\w'-])", text)]
        assert not missing, f"{path.name}: {q['id']!r}: the explanation never says why {', '.join(missing)} is wrong"


def _correct_is_longest(q: dict) -> bool:
    lengths = [len(_flat(c)) for c in q["choices"]]
    answer = string.ascii_uppercase.index(str(q["answer"]).strip().upper())
    others = lengths[:answer] + lengths[answer + 1:]
    return lengths[answer] >= max(others)


def length_tell(questions: list[dict]) -> tuple[float, list[str]]:
    """The share of questions whose correct choice is the longest (or tied), and their ids."""
    longest = [q.get("id", "?") for q in questions if _correct_is_longest(q)]
    return len(longest) / len(questions), longest


def position_tell(questions: list[dict]) -> tuple[float, Counter]:
    """The largest share of correct answers held by one position, and the count per position."""
    positions = Counter(str(q["answer"]).strip().upper() for q in questions)
    return positions.most_common(1)[0][1] / len(questions), positions


def test_the_longest_choice_is_not_a_tell():
    share, longest = length_tell([q for _, q in _all_questions()])
    assert share <= MAX_LONGEST_SHARE, (
        f"the correct choice is the longest (or tied) in {len(longest)} questions "
        f"({share:.0%} > {MAX_LONGEST_SHARE:.0%}): {longest}")


def test_no_position_holds_too_many_answers():
    share, positions = position_tell([q for _, q in _all_questions()])
    assert share <= MAX_POSITION_SHARE, (
        f"one position holds {share:.0%} of the correct answers (> {MAX_POSITION_SHARE:.0%}): {dict(positions)}")


def test_the_tells_are_measured_right():
    """A bank like the one before issue 13 (the answer always the longest) fails; ties count as longest."""
    gamed = [{"id": f"q{i}", "answer": "ABCD"[i % 4],
              "choices": ["a much longer, very specific answer" if j == i % 4 else "short" for j in range(4)]}
             for i in range(12)]
    assert length_tell(gamed)[0] == 1.0 and position_tell(gamed)[0] == 0.25
    one_place = [dict(q, answer="A", choices=["mid-sized", "the longest choice of all", "tiny", "brief"])
                 for q in gamed]
    assert length_tell(one_place)[0] == 0.0 and position_tell(one_place)[0] == 1.0
    assert _correct_is_longest({"choices": ["2N - 1", "2N - 2"], "answer": "B"})  # a tie


def test_misconception_bank_is_keyed_to_the_docs_page():
    page = (DOCS / "misconceptions.md").read_text(encoding="utf-8")
    items = [int(n) for n in re.findall(r"^## (\d+)\. ", page, re.M)]
    assert items == list(range(1, len(items) + 1)) and len(items) >= 6, items
    questions = _questions(QUIZ_DIR / "misconceptions.toml")
    assert len(questions) >= 6
    keyed = Counter(int(n) for q in questions
                    for n in re.findall(r"docs/misconceptions\.md, item (\d+)", _flat(q["explanation"])))
    assert set(keyed) == set(items), f"misconceptions without a question: {set(items) - set(keyed)}"
    specs = Path(__file__).resolve().parent.parent / "exercises"
    for name, wanted in {"nce_loss": {1, 4}, "info_nce": {1}, "nt_xent": {2, 5},
                         "contrastive_mnist": {2, 3, 6}, "negative_sampler": {2}}.items():
        text = _flat((specs / name / "spec.md").read_text(encoding="utf-8"))
        link = re.search(r"\[docs/misconceptions\.md\]\(\.\./\.\./docs/misconceptions\.md\), items? ([\d, and]+)", text)
        assert link, f"{name}'s spec does not link docs/misconceptions.md"
        assert {int(n) for n in re.findall(r"\d+", link.group(1))} == wanted, name
