"""Where exercises, stubs, solutions and checks live, and what info.toml says."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
EXERCISES_DIR = KIT_ROOT / "exercises"
SOLUTIONS_DIR = KIT_ROOT / "solutions"
CHECKS_DIR = Path(__file__).resolve().parent / "checks"
WORKSPACE_MARKER = ".contrastive-kit-workspace"


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


# The grade options an exercise may take (info.toml `grading.options`): --budget, --data-dir.
EXERCISE_OPTIONS = ("budget", "data_dir")
# Report categories every exercise may use; an exercise declares any other in `grading.categories`.
COMMON_CATEGORIES = ("interface", "correctness", "gradients", "properties", "stability", "hygiene",
                     "speed", "integrity")


@dataclass(frozen=True)
class Grading:
    """The exercise's contract with the engine: info.toml's `grading` table, these defaults where
    it says nothing (a loss: one torch thread, 10 s per call, no options)."""

    threads: int | None = 1           # torch threads of each child; None ("all"): the machine's
    call_timeout_s: float = 10.0      # the longest one call into the learner's code may take
    options: tuple[str, ...] = ()     # grade options its checks read (EXERCISE_OPTIONS)
    categories: tuple[str, ...] = ()  # report categories of its own, beyond COMMON_CATEGORIES


def parse_grading(table, where: str) -> Grading:
    """info.toml's `grading` table as a Grading; UsageError naming the key that is wrong."""
    if not isinstance(table, dict):
        raise UsageError(f"{where}: grading must be a table")
    unknown = sorted(set(table) - {"threads", "call_timeout_s", "options", "categories"})
    if unknown:
        raise UsageError(f"{where}: unknown grading key {unknown[0]!r}")
    threads = table.get("threads", 1)
    if threads != "all" and not (type(threads) is int and threads >= 1):
        raise UsageError(f"{where}: grading.threads must be a positive integer or \"all\", got {threads!r}")
    timeout = table.get("call_timeout_s", 10.0)
    if type(timeout) not in (int, float) or not 0 < timeout <= 600:
        raise UsageError(f"{where}: grading.call_timeout_s must be a number of seconds in (0, 600]")
    options, categories = table.get("options", []), table.get("categories", [])
    if not isinstance(options, list) or not set(options) <= set(EXERCISE_OPTIONS):
        raise UsageError(f"{where}: grading.options must list some of {', '.join(EXERCISE_OPTIONS)}")
    if not (isinstance(categories, list) and all(isinstance(c, str) and c.isidentifier() for c in categories)):
        raise UsageError(f"{where}: grading.categories must be a list of names")
    return Grading(None if threads == "all" else threads, float(timeout), tuple(options), tuple(categories))


@dataclass
class Exercise:
    name: str
    folder: Path
    title: str = ""
    difficulty: str = ""
    topics: list = field(default_factory=list)
    minutes: int = 0
    hints: list = field(default_factory=list)
    functions: list = field(default_factory=list)
    order: int | None = None  # place in the recommended path, easy to hard (info.toml `order`)
    grading: Grading = field(default_factory=Grading)

    @property
    def stub(self) -> Path:
        return self.folder / "stub.py"

    @property
    def spec(self) -> Path:
        return self.folder / "spec.md"

    @property
    def solution(self) -> Path:
        return SOLUTIONS_DIR / f"{self.name}.py"

    @property
    def checks(self) -> Path:
        return CHECKS_DIR / f"{self.name}.py"


def exercise_names() -> list[str]:
    if not EXERCISES_DIR.is_dir():
        return []
    return sorted(p.name for p in EXERCISES_DIR.iterdir()
                  if (p / "info.toml").is_file() and (CHECKS_DIR / f"{p.name}.py").is_file())


def load_exercise(name: str) -> Exercise:
    if name not in exercise_names():
        from grader.i18n import t

        known = ", ".join(exercise_names()) or "none"
        raise UsageError(t("unknown_exercise", name=name, known=known))
    folder = EXERCISES_DIR / name
    try:
        info = tomllib.loads((folder / "info.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read exercises/{name}/info.toml: {exc}") from None
    order = info.get("order")
    if order is not None and (type(order) is not int or order < 1):
        raise UsageError(f"exercises/{name}/info.toml: order must be a positive integer, "
                         f"got {order!r}")
    text = _localized_info(info)
    return Exercise(
        name=name, folder=folder, title=text.get("title", name),
        difficulty=info.get("difficulty", ""), topics=list(text.get("topics", [])),
        minutes=int(info.get("estimated_minutes", 0)), hints=list(text.get("hints", [])),
        functions=list(info.get("functions", [])), order=order,
        grading=parse_grading(info.get("grading", {}), f"exercises/{name}/info.toml"),
    )


TRANSLATED_INFO = ("title", "topics", "hints")


def _localized_info(info: dict) -> dict:
    """title, topics and hints in the learner's language: info.toml's [zh] table holds the
    Chinese ones (each falls back to English where it is missing)."""
    from grader.i18n import DEFAULT, language

    english = {key: info[key] for key in TRANSLATED_INFO if key in info}
    table = info.get(language()) if language() != DEFAULT else None
    if not isinstance(table, dict):
        return english
    return {**english, **{key: table[key] for key in TRANSLATED_INFO if key in table}}


def recommended_order(exercises: list) -> list:
    """Exercises by their info.toml `order`; those without one last, alphabetically."""
    return sorted(exercises, key=lambda e: (e.order is None, e.order or 0, e.name))


def find_workspace(start: Path | None = None) -> Path | None:
    """The practice workspace (made by `grade init`) containing start, if any."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / WORKSPACE_MARKER).is_file():
            return folder
    return None


def learner_file(exercise: Exercise, start: Path | None = None) -> Path:
    """The file `grade NAME` grades: the workspace's copy inside a workspace, else the kit's stub."""
    workspace = find_workspace(start)
    if workspace is not None and (workspace / exercise.name / "stub.py").is_file():
        return workspace / exercise.name / "stub.py"
    return exercise.stub
