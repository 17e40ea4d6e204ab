"""What a checks module imports: the check decorator, example counts, and helpers.

A checks module (grader/checks/<exercise>.py) is a plain pytest module whose
functions are named check_*; it asks for these fixtures, provided by the
grader's plugin: learner (calls into the sandboxed submission), reference (the
solution module, imported in the parent), device, seed, context, and
reference_child (the solution in a sandbox of its own, for fair timing).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, settings

from grader.compare import (  # noqa: F401  (re-exported for checks modules)
    as_tensor,
    assert_close,
    assert_grads_close,
    assert_scalar_like,
    assert_shape,
)
from grader.sandbox import Handle, LearnerRaised  # noqa: F401

_current = {"thorough": False}


def check(category: str):
    """Mark a check_* function with its report category."""
    return pytest.mark.category(category)


def examples(n: int, thorough_n: int | None = None):
    """Hypothesis settings with n examples (more with --thorough), no deadline, no database."""
    count = (thorough_n or n * 8) if _current["thorough"] else n
    return settings(max_examples=count, deadline=None, database=None, derandomize=False,
                    suppress_health_check=list(HealthCheck), print_blob=False,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])


def load_hypothesis_profile():
    """Defaults for any @given without @examples: no example database in the learner's folder."""
    settings.register_profile("contrastive-kit", database=None, deadline=None, print_blob=False,
                              suppress_health_check=list(HealthCheck),
                              max_examples=80 if _current["thorough"] else 10)
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
            raise AssertionError(f"expected {' or '.join(type_names)} for {what}, "
                                 f"got {exc.type_name}: {exc.error.get('message', '')}") from None
        box.error = exc
        return
    raise AssertionError(f"expected {' or '.join(type_names)} for {what}, but the call returned normally")


@dataclass
class GradeContext:
    """Everything a grading shares between the engine, the plugin and the checks."""

    exercise: str
    device: str
    seed: int
    thorough: bool = False
    extras: list = field(default_factory=list)  # rich renderables shown after the checks
    live: object = None  # a rich Console for progress while checks run, or None
    options: dict = field(default_factory=dict)  # exercise-specific options (e.g. data_dir)
