"""The pytest plugin object the engine passes to pytest.main.

It provides the fixtures the checks use and turns each test report into a
CheckResult. A failure carries the failing example's input as the grader sent it
(recorded by the Learner, reset at each hypothesis example, so that after the
shrink it holds the minimal example's calls) and the command that replays it.
Declared prerequisites (api.check(depends=...), CATEGORY_DEPENDS) skip a check
whose prerequisite did not pass; those that --only left out run first,
unreported, and their failure is the selected check's own. --thorough's example
counts are applied here, per grading.
"""

from __future__ import annotations

import functools
import time

import pytest
from hypothesis import settings

from grader import api
from grader.compare import Mismatch
from grader.describe import describe_input
from grader.i18n import t
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
        self._by_name: dict[str, CheckResult] = {}
        self._examples: dict[str, int] = {}
        self._started: dict[str, float] = {}
        self._errors: dict[str, BaseException] = {}
        self.only: set[str] | None = None
        self.skip: set[str] | None = None
        self._unreported: set[str] = set()   # names of the prerequisites run but not reported

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
        closing = getattr(self._reference_child_factory, "close", None)   # the owner of what it made
        if closing is not None:
            closing()
        elif self._reference_child is not None:
            self._reference_child.child.close()

    # -- hooks --------------------------------------------------------------
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "category(name): the report group of a check")
        config.addinivalue_line("markers", "depends(*names): the checks this check needs")

    def pytest_collection_modifyitems(self, config, items):
        if self.only or self.skip:
            keep, drop = [], []
            for item in items:
                marker = item.get_closest_marker("category")
                keys = {marker.args[0] if marker else "correctness", item.name.removeprefix("check_")}
                wanted = (not self.only or keys & self.only) and not (self.skip and keys & self.skip)
                (keep if wanted else drop).append(item)
            unreported = self._prerequisites_left_out(keep, drop)
            self._unreported = {item.name.removeprefix("check_") for item in unreported}
            keep = [item for item in items if item in keep or item in unreported]
            drop = [item for item in drop if item not in unreported]
            items[:] = keep
            config.hook.pytest_deselected(items=drop)
        # The reference's child starts now, beside the checks that come before the first use.
        launch = getattr(self._reference_child_factory, "launch", None)
        if launch is not None and any("reference_child" in getattr(item, "fixturenames", ()) for item in items):
            launch()

    def _prerequisites_left_out(self, keep, drop) -> list:
        """The checks that the checks --only selected need (transitively) and --only left out:
        they run first, unreported, as check50 runs a target's dependencies, so that a check
        asked for alone meets the state a full grading gives it (contrastive_mnist's long
        training runs only after its unit checks passed)."""
        if not self.only:
            return []
        by_name = {item.name.removeprefix("check_"): item for item in drop}
        needed, queue = [], list(keep)
        while queue:
            for name in _prerequisites(queue.pop()):
                item = by_name.pop(name, None)
                if item is not None and not (self.skip and name in self.skip):
                    needed.append(item)
                    queue.append(item)
        return needed

    def pytest_runtest_setup(self, item):
        self._started[item.nodeid] = time.perf_counter()
        self._learner.begin_check()
        self._examples[item.nodeid] = 0
        self._prepare_hypothesis(item)
        # A prerequisite that ran unreported and did not pass: its failure is this check's
        # own, since its line is not shown. A reported one that did not pass skips this check,
        # except when this check was asked for by name (--only NAME): the request is explicit.
        named = bool(self.only) and item.name.removeprefix("check_") in self.only
        unmet = [result for result in map(self._by_name.get, _prerequisites(item))
                 if result is not None and result.status is not Status.PASSED]
        unmet.sort(key=lambda r: r.status is Status.SKIPPED)   # name the cause, not what it skipped
        for result in unmet:
            if result.name in self._unreported:
                raise InheritedFailure(result)
            if not named:
                pytest.skip(t("needs_check", check=result.name, outcome=_past(result.status)))

    def _prepare_hypothesis(self, item):
        """Per grading: the example count (--thorough), and a fresh call record per example."""
        fn = getattr(item, "obj", None)
        if not hasattr(fn, "hypothesis"):
            return
        fn._hypothesis_internal_use_settings = settings(
            fn._hypothesis_internal_use_settings, max_examples=api.example_count(fn, self.ctx.thorough))
        inner = fn.hypothesis.inner_test
        if not getattr(inner, "_kit_counts_examples", False):
            fn.hypothesis.inner_test = _counting(inner)

    def note_example(self):
        """Called by the wrapped inner test as each hypothesis example starts."""
        self._learner.begin_example()
        nodeid = next(reversed(self._examples), None)
        if nodeid is not None:
            self._examples[nodeid] += 1

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.excinfo is not None and call.when in ("setup", "call"):
            self._errors[item.nodeid] = call.excinfo.value
        report = outcome.get_result()
        marker = item.get_closest_marker("category")
        report.category = marker.args[0] if marker else "correctness"
        report.check_name = item.name.removeprefix("check_")
        report.examples = self._examples.get(item.nodeid) if hasattr(getattr(item, "obj", None), "hypothesis") else None

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            elapsed = time.perf_counter() - self._started.get(report.nodeid, time.perf_counter())
            result = CheckResult(report.check_name, report.category, Status.PASSED, "", elapsed,
                                 examples=getattr(report, "examples", None))
            inherited = _first_leaf(self._errors.get(report.nodeid))
            if isinstance(inherited, InheritedFailure):
                self._inherit(result, inherited.result)
            elif report.passed:
                result.message = dict(report.user_properties).get("message", "")
            elif report.skipped:
                result.status, result.message = Status.SKIPPED, self._skip_reason(report)
            else:
                error = self._errors.get(report.nodeid)
                result.status, result.message = self.classify(error)
                if result.status is not Status.SKIPPED:
                    self._add_input_and_replay(result)
                mismatch = _first_leaf(error)
                if isinstance(mismatch, Mismatch):
                    result.expected, result.got = self.sanitize(mismatch.expected), self.sanitize(mismatch.got)
                    result.hint = self.sanitize(mismatch.hint)
            self._by_name[result.name] = result
            if result.name in self._unreported:
                return
            self.results.append(result)
            if self.ctx.on_result is not None:
                self.ctx.on_result(result)

    def _inherit(self, result: CheckResult, cause: CheckResult):
        """result takes the failure of the unreported prerequisite cause, named, with its input."""
        result.status = cause.status
        result.message = f"{t('needs_check', check=cause.name, outcome=_past(cause.status))}: {cause.message}"
        for field in ("input", "expected", "got", "hint", "replay"):
            setattr(result, field, getattr(cause, field))

    def _add_input_and_replay(self, result: CheckResult):
        if result.category != "speed" and self._learner.sent:
            result.input = self.sanitize(describe_input(self._learner.sent, self._reference))
        if self.ctx.replay_base:
            result.replay = self.sanitize(f"{self.ctx.replay_base} --seed {self.ctx.seed} --only {result.name}")

    # -- turning exceptions into statuses ---------------------------------
    def classify(self, exc: BaseException | None) -> tuple[Status, str]:
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


class InheritedFailure(Exception):
    """Raised at a check's setup: a prerequisite that ran unreported did not pass."""

    def __init__(self, result: CheckResult):
        super().__init__(result.message)
        self.result = result


def _first_leaf(exc):
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _prerequisites(item) -> list[str]:
    """The checks item needs: its own @check(depends=...), and its module's CATEGORY_DEPENDS
    ({category: (check, ...)}: e.g. gradient checks need the values right first)."""
    needed = [name for marker in item.iter_markers("depends") for name in marker.args]
    marker = item.get_closest_marker("category")
    category = marker.args[0] if marker else "correctness"
    by_category = getattr(getattr(item, "module", None), "CATEGORY_DEPENDS", {})
    name = item.name.removeprefix("check_")
    return [n for n in needed + list(by_category.get(category, ())) if n != name]


def _past(status: Status) -> str:
    return t(f"outcome_{status.value}") if status is not Status.PASSED else status.value


def _counting(inner):
    """The hypothesis inner test, telling the plugin (through the learner fixture it is given)
    that an example starts, so that the calls recorded are the last example's alone."""
    @functools.wraps(inner)
    def run_example(*args, **kwargs):
        learner = kwargs.get("learner")
        plugin = getattr(learner, "plugin", None)
        if plugin is not None:
            plugin.note_example()
        return inner(*args, **kwargs)

    run_example._kit_counts_examples = True
    return run_example
