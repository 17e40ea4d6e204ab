"""Results of one grading: small dataclasses with a status enum, and their JSON form.

SCHEMA_VERSION counts changes of the JSON form (`grade --json`): 2 added each check's
"input", "replay" and "examples", and the document's "version"; 3 added a failed
comparison's parts, "expected", "got" and "hint" (grader/compare.py Mismatch; "" otherwise).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from grader.catalog import COMMON_CATEGORIES

SCHEMA_VERSION = 3
# The common categories' order in a report; an exercise's own (info.toml grading.categories)
# come before speed, in the order they first appear.
CATEGORY_ORDER = list(COMMON_CATEGORIES)


def category_rank(category: str) -> float:
    """Where a category goes in a report (sort key; sorting is stable)."""
    if category in CATEGORY_ORDER:
        return CATEGORY_ORDER.index(category)
    return CATEGORY_ORDER.index("speed") - 0.5


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"

    @property
    def is_bad(self) -> bool:
        return self in (Status.FAILED, Status.ERROR, Status.TIMEOUT)


@dataclass
class CheckResult:
    name: str
    category: str
    status: Status
    message: str = ""
    duration_s: float = 0.0
    input: str = ""     # the failing example's calls, as the grader sent them (grader/describe.py)
    replay: str = ""    # the command that reruns this check on the same examples
    examples: int | None = None   # hypothesis examples run (checks with @given)
    expected: str = ""  # a failed comparison's parts (compare.Mismatch): what was expected,
    got: str = ""       # what came back (the entry that differs most),
    hint: str = ""      # and the check's hint, if it has one

    @classmethod
    def from_json(cls, doc: dict) -> "CheckResult":
        return cls(doc["name"], doc["category"], Status(doc["status"]), doc.get("message", ""),
                   float(doc.get("duration_s", 0.0)), doc.get("input", ""), doc.get("replay", ""),
                   doc.get("examples"), doc.get("expected", ""), doc.get("got", ""), doc.get("hint", ""))

    def to_json(self) -> dict:
        return {"name": self.name, "category": self.category, "status": self.status.value,
                "message": self.message, "duration_s": round(self.duration_s, 4),
                "input": self.input, "replay": self.replay, "examples": self.examples,
                "expected": self.expected, "got": self.got, "hint": self.hint}


@dataclass
class GradeReport:
    exercise: str
    file: str
    device: str
    seed: int
    checks: list[CheckResult] = field(default_factory=list)
    duration_s: float = 0.0
    learner_output: str = ""
    learner_output_bytes: int = 0
    extras: list = field(default_factory=list)  # renderables a checks module adds (tables, sparklines)
    not_run: int = 0   # checks not run at all: the module did not import, or it is the untouched stub

    @property
    def passed(self) -> bool:
        """Every check ran and passed: a skipped check (e.g. no CUDA here) is not a pass."""
        return bool(self.checks) and all(c.status is Status.PASSED for c in self.checks)

    def counts(self) -> dict:
        out = {s.value: 0 for s in Status}
        for c in self.checks:
            out[c.status.value] += 1
        return out

    def by_category(self) -> list[tuple[str, list[CheckResult]]]:
        groups: dict[str, list[CheckResult]] = {}
        for c in self.checks:
            groups.setdefault(c.category, []).append(c)
        return sorted(groups.items(), key=lambda kv: category_rank(kv[0]))

    @classmethod
    def from_json(cls, doc: dict) -> "GradeReport":
        """A report read back from `grade --json` (any schema version up to SCHEMA_VERSION)."""
        report = cls(doc["exercise"], doc["file"], doc["device"], doc["seed"],
                     [CheckResult.from_json(c) for c in doc["checks"]], float(doc.get("duration_s", 0.0)))
        report.not_run = int(doc.get("not_run", 0))
        return report

    def to_json(self) -> dict:
        return {"version": SCHEMA_VERSION, "exercise": self.exercise, "file": self.file, "device": self.device,
                "seed": self.seed, "passed": self.passed, "not_run": self.not_run, "duration_s": round(self.duration_s, 3),
                "checks": [c.to_json() for c in self.checks]}
