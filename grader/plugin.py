"""The pytest plugin object the engine passes to pytest.main.

It provides the fixtures the checks use and turns each test report into a
CheckResult; hypothesis' shrunk example and the seed to replay it are added to
a failure's message.
"""

from __future__ import annotations

import re
import time

import pytest

from grader.results import CheckResult, Status
from grader.sandbox import (
    ChildProcess,
    ChildTimeout,
    Learner,
    LearnerRaised,
    MissingFunction,
    NotRun,
    SandboxError,
)

MESSAGE_CAP = 1500


class GraderPlugin:
    def __init__(self, context, learner: Learner, reference, reference_child_factory, sanitize):
        self.ctx = context
        self._learner = learner
        self._reference = reference
        self._reference_child_factory = reference_child_factory
        self._reference_child: ChildProcess | None = None
        self.sanitize = sanitize
        self.results: list[CheckResult] = []
        self._started: dict[str, float] = {}
        self._errors: dict[str, BaseException] = {}
        self.only: set[str] | None = None
        self.skip: set[str] | None = None

    # -- fixtures ---------------------------------------------------------
    @pytest.fixture
    def learner(self):
        return self._learner

    @pytest.fixture
    def reference(self):
        return self._reference

    @pytest.fixture
    def context(self):
        return self.ctx

    @pytest.fixture
    def seed(self):
        return self.ctx.seed

    @pytest.fixture
    def device(self):
        import torch

        if self.ctx.device.startswith("cuda") and not torch.cuda.is_available():
            pytest.skip("CUDA is not available on this machine")
        return self.ctx.device

    @pytest.fixture
    def reference_child(self):
        if self._reference_child is None:
            self._reference_child = self._reference_child_factory()
        return self._reference_child

    def close(self):
        if self._reference_child is not None:
            self._reference_child.child.close()

    # -- hooks --------------------------------------------------------------
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "category(name): the report group of a check")

    def pytest_collection_modifyitems(self, config, items):
        if not self.only and not self.skip:
            return
        keep, drop = [], []
        for item in items:
            marker = item.get_closest_marker("category")
            keys = {marker.args[0] if marker else "correctness", item.name.removeprefix("check_")}
            wanted = (not self.only or keys & self.only) and not (self.skip and keys & self.skip)
            (keep if wanted else drop).append(item)
        items[:] = keep
        config.hook.pytest_deselected(items=drop)

    def pytest_runtest_setup(self, item):
        self._started[item.nodeid] = time.perf_counter()
        self._learner.begin_check()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.excinfo is not None and call.when in ("setup", "call"):
            self._errors[item.nodeid] = call.excinfo.value
        report = outcome.get_result()
        marker = item.get_closest_marker("category")
        report.category = marker.args[0] if marker else "correctness"
        report.check_name = item.name.removeprefix("check_")

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            elapsed = time.perf_counter() - self._started.get(report.nodeid, time.perf_counter())
            if report.passed:
                note = dict(report.user_properties).get("message", "")
                result = CheckResult(report.check_name, report.category, Status.PASSED, note, elapsed)
            elif report.skipped:
                result = CheckResult(report.check_name, report.category, Status.SKIPPED,
                                     self._skip_reason(report), elapsed)
            else:
                status, message = self.classify(self._errors.get(report.nodeid))
                result = CheckResult(report.check_name, report.category, status, message, elapsed)
            self.results.append(result)

    # -- turning exceptions into statuses ---------------------------------
    def classify(self, exc: BaseException | None) -> tuple[Status, str]:
        example = _falsifying_example(exc)
        exc = _first_leaf(exc)
        if isinstance(exc, AssertionError):
            status, message = Status.FAILED, str(exc) or "assertion failed"
        elif isinstance(exc, LearnerRaised):
            if exc.kind == "memory":
                status, message = Status.ERROR, f"memory: {exc.describe()}"
            elif exc.kind == "exit":
                status, message = Status.ERROR, f"crash: {exc.describe()}"
            else:
                status, message = Status.FAILED, exc.describe()
        elif isinstance(exc, ChildTimeout):
            status, message = Status.TIMEOUT, str(exc)
        elif isinstance(exc, SandboxError):
            status, message = Status.ERROR, str(exc)
        elif isinstance(exc, (MissingFunction, NotRun)):
            status, message = Status.SKIPPED, f"not run: {exc}"
        elif exc is None:
            status, message = Status.ERROR, "the check failed without an exception"
        else:
            status, message = Status.ERROR, f"grader error: {type(exc).__name__}: {exc}"
        if example and status is not Status.SKIPPED:
            message += (f"\nsmallest failing input: {example}\n"
                        f"replay with: --seed {self.ctx.seed}")
        message = self.sanitize(message)
        if len(message) > MESSAGE_CAP:
            message = message[:MESSAGE_CAP] + " ...[cut]"
        return status, message

    @staticmethod
    def _skip_reason(report) -> str:
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            return str(longrepr[2]).removeprefix("Skipped: ")
        return str(longrepr)


def _first_leaf(exc):
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


_FIXTURE_ARGS = ("learner", "reference", "context", "seed", "device", "reference_child", "record_property")


def _falsifying_example(exc) -> str:
    """Hypothesis attaches 'Falsifying example: f(case=...)' as a note; keep the drawn arguments."""
    for candidate in (exc, _first_leaf(exc)):
        for note in getattr(candidate, "__notes__", []) or []:
            if note.startswith("Falsifying example"):
                body = " ".join(line.strip() for line in note.splitlines()[1:])
                body = re.sub(r"\(\s+", "(", body)
                body = re.sub(r",?\s*\)", ")", body).strip()
                body = body[:-1].strip() if body.endswith(")") else body
                args = [a.strip().rstrip(",") for a in _top_level_split(body)]
                return ", ".join(a for a in args if a and a.split("=", 1)[0] not in _FIXTURE_ARGS)
    return ""


def _top_level_split(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
