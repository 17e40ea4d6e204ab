"""`grade quiz`: multiple-choice concept questions for interviews, with explanations.

The questions live in grader/quiz/<topic>.toml (every .toml there except
followups.toml): a `topic`, a `title` and a list of [[questions]] with `id`,
`question`, `choices`, `answer` (a letter) and `explanation`.
"""

from __future__ import annotations

import random
import string
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader import progress
from grader.i18n import localized_in, t
from grader.catalog import UsageError
from grader.commands._common import console, positive_int

NAME = "quiz"
HELP = "multiple-choice concept questions on contrastive learning, graded with explanations"

QUIZ_DIR = Path(__file__).resolve().parent.parent / "quiz"
NOT_BANKS = {"followups"}


@dataclass
class Question:
    id: str
    topic: str
    question: str
    choices: list
    answer: int  # 0-based
    explanation: str

    @property
    def letters(self) -> str:
        return string.ascii_uppercase[:len(self.choices)]


def reflow(text: str) -> str:
    """Join the hard-wrapped lines of a TOML string; blank lines separate paragraphs."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


def _parse_bank(path: Path) -> tuple[str, str, list[Question]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    topic = data.get("topic") or path.stem
    title = data.get("title", topic)
    questions = []
    for i, q in enumerate(data.get("questions", [])):
        choices = q.get("choices")
        answer = str(q.get("answer", "")).strip().upper()
        if not (isinstance(q.get("id"), str) and isinstance(q.get("question"), str)
                and isinstance(choices, list) and 2 <= len(choices) <= 6
                and all(isinstance(c, str) for c in choices)
                and len(answer) == 1 and answer in string.ascii_uppercase[:len(choices)]
                and isinstance(q.get("explanation"), str)):
            raise ValueError(f"question {i + 1} is malformed (needs id, question, 2-6 choices, "
                             f"answer letter, explanation)")
        questions.append(Question(q["id"], topic, reflow(q["question"]), [reflow(c) for c in choices],
                                  string.ascii_uppercase.index(answer),
                                  reflow(q["explanation"])))
    if not questions:
        raise ValueError("no [[questions]]")
    return topic, title, questions


def load_banks(folder: Path = QUIZ_DIR) -> dict[str, tuple[str, list[Question]]]:
    """topic -> (title, questions). A malformed bank is a warning, not a crash."""
    banks: dict[str, tuple[str, list[Question]]] = {}
    for path in sorted(folder.glob("*.toml")):
        if path.stem in NOT_BANKS:
            continue
        try:
            topic, title, questions = _parse_bank(localized_in(path))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
            progress.warn(f"skipping quiz bank {path.name}: {exc}")
            continue
        old = banks.get(topic, (title, []))[1]
        banks[topic] = (title, old + questions)
    return banks


def match_topic(banks: dict, wanted: str) -> str:
    key = wanted.strip().lower().replace("-", "_").replace(" ", "_")
    if key in banks:
        return key
    hits = [t for t in banks if t.startswith(key)] or [
        t for t in banks if key and (key in t or key.replace("_", " ") in banks[t][0].lower())]
    if len(hits) == 1:
        return hits[0]
    known = ", ".join(sorted(banks))
    if hits:
        raise UsageError(f"topic {wanted!r} is ambiguous: {', '.join(sorted(hits))}")
    raise UsageError(f"unknown topic {wanted!r}; topics: {known}")


def add_arguments(parser) -> None:
    parser.add_argument("--topic", help="only questions of this topic (see --topics)")
    parser.add_argument("-n", type=positive_int, default=5, metavar="N", help="number of questions (default 5)")
    parser.add_argument("--seed", type=int, help="fix the choice of questions")
    parser.add_argument("--topics", action="store_true", help="list the topics and exit")
    parser.add_argument("--answers", help="answer from this comma-separated list (e.g. B,C,skip) "
                        "instead of asking; for scripts and tests")


class Answers:
    """Where answers come from: a scripted list, or stdin (a closed stdin ends the quiz)."""

    def __init__(self, scripted: str | None):
        self.scripted = None if scripted is None else [a.strip() for a in scripted.split(",")]

    def next(self) -> str | None:
        if self.scripted is not None:
            return self.scripted.pop(0) if self.scripted else None
        try:
            line = sys.stdin.readline()
        except (OSError, ValueError):  # stdin closed or not readable
            return None
        return line.strip() if line else None


def ask(out, answers: Answers, question: Question) -> tuple[str, int | None] | None:
    """('answer', index) / ('skip', None) / ('quit', None), or None when input ran out."""
    letters = question.letters
    while True:
        out.print(t("quiz_prompt", first=letters[0], last=letters[-1]), end="")
        sys.stdout.flush()
        raw = answers.next()
        if raw is None:
            out.print()
            return None
        if answers.scripted is not None or not _stdin_is_terminal():
            out.print(raw)  # a typed answer is echoed by the terminal; a piped one is not
        text = raw.strip().lower()
        if text in ("q", "quit", "exit"):
            return "quit", None
        if text in ("s", "skip"):
            return "skip", None
        if len(text) == 1 and text.upper() in letters:
            return "answer", letters.index(text.upper())
        if text.isdigit() and 1 <= int(text) <= len(letters):
            return "answer", int(text) - 1
        out.print(t("quiz_letter_please", first=letters[0], last=letters[-1]))


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def pick(pool: list[Question], n: int, seed: int | None, stats: dict) -> list[Question]:
    """n questions; those never answered correctly (then least often correct) come first."""
    rng = random.Random(seed)
    keyed = []
    for q in pool:
        s = stats.get(q.id, {})
        try:
            correct = int(s.get("correct", 0))
        except (AttributeError, TypeError, ValueError):
            correct = 0
        keyed.append((correct, rng.random(), q))
    keyed.sort(key=lambda t: (t[0], t[1]))
    chosen = [q for _, _, q in keyed[:n]]
    rng.shuffle(chosen)
    return chosen


def run(args) -> int:
    banks = load_banks()
    if not banks:
        raise UsageError(f"no quiz questions found in {QUIZ_DIR}")
    out = console()
    if args.topics:
        table = Table(title=t("quiz_topics_title"), title_justify="left")
        table.add_column(t("quiz_col_topic"), no_wrap=True)
        table.add_column(t("quiz_col_questions"), justify="right")
        table.add_column(t("quiz_col_covers"))
        for topic, (title, questions) in sorted(banks.items()):
            table.add_row(topic, str(len(questions)), title)
        out.print(table)
        return 0
    topic = match_topic(banks, args.topic) if args.topic else None
    pool = banks[topic][1] if topic else [q for _, qs in banks.values() for q in qs]
    stats = progress.read()["quiz"]["questions"]
    chosen = pick(pool, min(args.n, len(pool)), args.seed, stats)
    if args.n > len(pool):
        out.print(t("quiz_only_on", count=len(pool), topic=topic) if topic else t("quiz_only", count=len(pool)))
    answers = Answers(args.answers)
    results, ended = [], "finished"
    for number, question in enumerate(chosen, start=1):
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column()
        for letter, choice in zip(question.letters, question.choices):
            grid.add_row(Text(f"{letter})", style="bold"), Text(choice, overflow="fold"))
        body = Group(Text(question.question), Text(""), grid)
        out.print(Panel(body, title=t("quiz_question_title", n=number, total=len(chosen), topic=question.topic),
                        title_align="left", border_style="cyan"))
        reply = ask(out, answers, question)
        if reply is None:
            ended = "input ended"
            break
        kind, index = reply
        if kind == "quit":
            ended = "quit"
            break
        right = question.letters[question.answer]
        correct = kind == "answer" and index == question.answer
        if correct:
            out.print(Text(t("quiz_correct"), style="bold green"))
        else:
            lead = t("quiz_skipped") if kind == "skip" else t("quiz_not_quite", choice=question.letters[index])
            out.print(Text(lead + t("quiz_the_answer", letter=right, choice=question.choices[question.answer]),
                           style="bold red" if kind == "answer" else "bold yellow"))
        out.print(Text(question.explanation, style="dim" if out.is_terminal else ""))
        out.print()
        results.append({"id": question.id, "topic": question.topic,
                        "choice": question.letters[index] if index is not None else None,
                        "answer": right, "correct": correct})
    score = sum(r["correct"] for r in results)
    if results:
        progress.record_quiz({"at": progress.now_iso(), "topic": topic, "asked": len(results),
                              "correct": score, "ended": ended, "answers": results})
    out.print(t("quiz_score", score=score, asked=len(results))
              + (t("quiz_not_asked", count=len(chosen) - len(results)) if len(results) < len(chosen) else "")
              + (t("quiz_recorded") if results else ""))
    if ended == "input ended":
        sys.stderr.write(f"grade: quiz stopped: no more answers on stdin after "
                         f"{len(results)} of {len(chosen)} questions\n")
        return 1
    return 0

