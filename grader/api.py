"""What a checks module imports: the check decorator, example counts, and helpers.

A checks module (grader/checks/<exercise>.py) is a plain pytest module whose
functions are named check_*; it asks for these fixtures, provided by the
grader's plugin: learner (calls into the sandboxed submission), reference (the
solution module, imported in the parent), device, seed, context, and
reference_child (the solution in a sandbox of its own, for fair timing).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, configuration, settings

from grader.compare import (  # noqa: F401  (re-exported for checks modules)
    as_tensor,
    assert_close,
    assert_grads_close,
    assert_scalar_like,
    assert_shape,
)
from grader.i18n import t
from grader.sandbox import Handle, LearnerRaised, NotRun  # noqa: F401

_storage: str | None = None
THOROUGH_FACTOR = 8
DEFAULT_EXAMPLES = 10


def check(category: str, depends: tuple[str, ...] | list[str] = ()):
    """Mark a check_* function with its report category and the checks it needs.

    A check whose prerequisite (a check of the same exercise, defined above it) failed,
    errored, timed out or was skipped is skipped with "needs NAME": a speed ratio means
    nothing once the values are wrong, and the same bug is reported once. Asked for alone
    (--only), a check has its prerequisites run first, unreported, and takes their failure."""
    def mark(fn):
        fn = pytest.mark.category(category)(fn)
        return pytest.mark.depends(*depends)(fn) if depends else fn
    return mark


def examples(n: int, thorough_n: int | None = None):
    """Hypothesis settings with n examples, no deadline, no database.

    The count under --thorough (thorough_n, else 8n) is applied per grading by the plugin
    (example_count), since a checks module is imported once and graded many times."""
    def apply(fn):
        fn = settings(max_examples=n, deadline=None, database=None, derandomize=False,
                      suppress_health_check=list(HealthCheck), print_blob=False,
                      phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])(fn)
        fn._kit_examples = (n, thorough_n or n * THOROUGH_FACTOR)
        return fn
    return apply


def example_count(fn, thorough: bool) -> int:
    """How many examples fn (a @given check) runs in a grading."""
    n, thorough_n = getattr(fn, "_kit_examples", (DEFAULT_EXAMPLES, DEFAULT_EXAMPLES * THOROUGH_FACTOR))
    return thorough_n if thorough else n


def load_hypothesis_profile():
    """Defaults for any @given without @examples: no example database, no deadline. What
    hypothesis still stores (its constants cache) goes to a temporary folder removed at exit,
    not to a .hypothesis/ folder in the learner's folder."""
    global _storage
    if _storage is None:
        _storage = tempfile.mkdtemp(prefix="contrastive-kit-hypothesis-")
        atexit.register(shutil.rmtree, _storage, ignore_errors=True)
        configuration.set_hypothesis_home_dir(_storage)
    settings.register_profile("contrastive-kit", database=None, deadline=None, print_blob=False,
                              suppress_health_check=list(HealthCheck), max_examples=DEFAULT_EXAMPLES)
    settings.load_profile("contrastive-kit")


@dataclass
class Raised:
    error: LearnerRaised | None = None


@contextlib.contextmanager
def learner_raises(*type_names: str, what: str = "this input"):
    """Expect the learner's call inside to raise one of type_names (subclasses count)."""
    box = Raised()
    try:
        yield box
    except LearnerRaised as exc:
        if exc.kind == "not_implemented":
            raise
        if not any(exc.is_a(name) for name in type_names):
            raise AssertionError(t("expected_exception", types=t("or_word").join(type_names), what=what,
                                   type=exc.type_name, message=exc.error.get("message", ""))) from None
        box.error = exc
        return
    raise AssertionError(t("expected_exception_none", types=t("or_word").join(type_names), what=what))


@dataclass
class GradeContext:
    """Everything a grading shares between the engine, the plugin and the checks."""

    exercise: str
    device: str
    seed: int
    thorough: bool = False
    replay_base: str = ""   # "grade EXERCISE [--file F]": a failure's replay command starts so
    extras: list = field(default_factory=list)  # rich renderables shown after the checks
    live: object = None  # a rich Console for progress while checks run, or None
    options: dict = field(default_factory=dict)  # exercise-specific options (e.g. data_dir)
    on_result: object = None  # called with each CheckResult as it is made (a progress line), or None
    store: dict = field(default_factory=dict)  # what the checks of this grading share (once(), a module's state)


def once_outcome(context: GradeContext, key: str):
    """(value, error) of once(context, key, ...) if it has run in this grading, else None."""
    outcome = context.store.get("once", {}).get(key)
    return None if outcome is None else outcome[:2]


def once(context: GradeContext, key: str, compute, *, label: str = ""):
    """compute() run once per grading and shared by the checks that need it (a training, the
    features of a trained encoder): the first to ask runs it, whichever that is (so --only
    works on any of them); later ones get its value. When it failed, the first caller raised
    the error itself and later ones are not run (NotRun), pointing at that failure."""
    done = context.store.setdefault("once", {})
    if key in done:
        value, error, first_label = done[key]
        if isinstance(error, NotRun):
            raise NotRun(str(error))
        if error is not None:
            first = (str(error).splitlines() or [type(error).__name__])[0]
            raise NotRun(f"{first_label} failed in an earlier check: {first[:160]}")
        return value
    try:
        value = compute()
    except Exception as exc:
        done[key] = (None, exc, label or key)
        raise
    done[key] = (value, None, label or key)
    return value
