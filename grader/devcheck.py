"""What `grade dev check` verifies of an exercise, as rustlings' dev check does.

For each exercise: its files are present, info.toml is valid, the reference passes every
check, the untouched stub fails as "not implemented yet", and every file of its catalogue
(tests/submissions/NAME/*.py) gets the verdict its docstring states:

    expect: pass                       graded in full (speed skipped): every check passes
    expect: fail CHECK[, CHECK...]     graded with --only those checks: each fails
    seed: N                            the hypothesis seed (default 0)
    requires: MODULE                   skipped where MODULE is not installed

tests/test_catalogue.py runs this check for every exercise.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader import static
from grader.catalog import COMMON_CATEGORIES, KIT_ROOT, Exercise, UsageError, parse_grading

SUBMISSIONS = KIT_ROOT / "tests" / "submissions"
BAD = {"failed", "error", "timeout"}
INFO_FORMAT = 3   # 3: the grading table (threads, call timeout, options, categories)
KIND_WORDS = {str: "a string", int: "an integer", list: "a list"}
REQUIRED_INFO = {"title": str, "difficulty": str, "topics": list, "estimated_minutes": int,
                 "functions": list, "hints": list, "order": int}


@dataclass
class Expectation:
    verdict: str                       # "pass" or "fail"
    checks: list[str] = field(default_factory=list)
    seed: int = 0
    requires: str | None = None

    def grade_args(self) -> dict:
        if self.verdict == "pass":
            return {"seed": self.seed, "skip": ["speed"]}
        return {"seed": self.seed, "only": list(self.checks)}


def expectation(path: Path) -> Expectation:
    text = path.read_text(encoding="utf-8")
    match = re.search(r"^\s*expect:\s*(pass|fail\s+(.+))\s*$", text, re.MULTILINE)
    if not match:
        raise ValueError(f"{path} has no 'expect:' line in its docstring")
    seed = re.search(r"^\s*seed:\s*(\d+)\s*$", text, re.MULTILINE)
    requires = re.search(r"^\s*requires:\s*(\S+)\s*$", text, re.MULTILINE)
    checks = [c.strip() for c in (match.group(2) or "").split(",") if c.strip()]
    return Expectation("pass" if match.group(1) == "pass" else "fail", checks,
                       int(seed.group(1)) if seed else 0, requires.group(1) if requires else None)


# Checks too slow for the fast tier of the test suite: they time the reference or train a model.
SLOW_CATEGORIES = ("speed", "training")


def is_fast(exercise: Exercise, expected: Expectation) -> bool:
    """Whether grading this catalogue file belongs to the fast part of `grade dev check`: a wrong
    file graded only on the checks it names, none of them timing or training."""
    categories = static.checks_of(exercise.checks)
    return expected.verdict == "fail" and not any(categories.get(c) in SLOW_CATEGORIES for c in expected.checks)


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:   # already imported without a spec
        return module in sys.modules


def verdict_problem(doc: dict, expected: Expectation) -> str | None:
    """Why a grading (its JSON form) does not meet the expectation, or None."""
    got = {c["name"]: c["status"] for c in doc["checks"]}
    if expected.verdict == "pass":
        bad = {n: s for n, s in got.items() if s not in ("passed", "skipped")}
        if bad or not doc["passed"]:
            return f"a correct submission failed: {bad}"
        return None
    messages = {c["name"]: c.get("message", "") for c in doc["checks"]}
    for check in expected.checks:
        if check not in got:
            return f"no check named {check} (have {sorted(got)})"
        if got[check] not in BAD:
            note = f" ({messages[check]})" if messages[check] else ""
            return f"{check} did not catch this bug: {got[check]}{note}"
    return "graded as passing" if doc["passed"] else None


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(KIT_ROOT))
    except ValueError:
        return str(path)


def catalogue(name: str) -> list[Path]:
    return sorted((SUBMISSIONS / name).glob("*.py"))


def info_problems(exercise: Exercise) -> list[str]:
    """What is missing or malformed in the exercise's files and info.toml."""
    problems = [f"missing {_shown(path)}" for path in
                (exercise.spec, exercise.stub, exercise.folder / "info.toml", exercise.solution, exercise.checks)
                if not path.is_file()]
    try:
        info = tomllib.loads((exercise.folder / "info.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return problems + [f"info.toml: {exc}"]
    if info.get("format") != INFO_FORMAT:
        problems.append(f"info.toml: format = {INFO_FORMAT} expected, got {info.get('format')!r}")
    for key, kind in REQUIRED_INFO.items():
        if not isinstance(info.get(key), kind):
            problems.append(f"info.toml: {key} must be {KIND_WORDS[kind]}")
    if isinstance(info.get("hints"), list) and not (
            info["hints"] and all(isinstance(h, str) and h.strip() for h in info["hints"])):
        problems.append("info.toml: hints must be non-empty strings, at least one")
    if isinstance(info.get("functions"), list) and not info["functions"]:
        problems.append("info.toml: functions must name at least one function")
    problems += contract_problems(exercise, info)
    wrong = [p for p in catalogue(exercise.name) if p.name.startswith("wrong_")]
    if len(wrong) < 10:
        # (right ones are expected too where a submission can be graded in seconds; a training
        # exercise's right answer is its reference, graded above)
        problems.append(f"tests/submissions/{exercise.name}: {len(wrong)} wrong_*.py files, "
                        f"at least 10 expected")
    return problems


def contract_problems(exercise: Exercise, info: dict) -> list[str]:
    """The grading table is valid, and the checks module keeps to its own checks: every category
    it uses is common or declared, and what the contract says is not said again in code."""
    try:
        grading = parse_grading(info.get("grading", {}), "info.toml")
    except UsageError as exc:
        return [str(exc)]
    if not exercise.checks.is_file():
        return []
    problems = []
    allowed = set(COMMON_CATEGORIES) | set(grading.categories)
    for name, category in static.checks_of(exercise.checks).items():
        if category not in allowed:
            problems.append(f"check {name}: category {category!r} is neither common ({', '.join(COMMON_CATEGORIES)}) "
                            "nor declared in info.toml grading.categories")
    for constant in ("REQUIRED", "THREADS", "CALL_TIMEOUT", "OPTIONS"):
        if static.constant_of(exercise.checks, constant, None) is not None:
            problems.append(f"grader/checks/{exercise.name}.py defines {constant}: the contract lives in info.toml "
                            "(functions, grading)")
    return problems
