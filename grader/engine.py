"""One grading: start the sandboxed submission, run the hidden checks with pytest, collect results."""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import io
import os
import random
import re
import sys
import time
from pathlib import Path

from grader import static
from grader.catalog import KIT_ROOT, Exercise, UsageError
from grader.i18n import t
from grader.integrity import Integrity
from grader.results import CheckResult, GradeReport, Status
from grader.sandbox import ChildProcess, Learner, SandboxError

# Results the engine adds itself, whatever the checks module holds.
ENGINE_CHECKS = {"module_imports": "interface", "defines_required_names": "interface",
                 "functions_implemented": "interface", "does_not_use_reference": "integrity"}


def selectable_names(exercise: Exercise) -> tuple[list[str], list[str]]:
    """(categories, check names) that --only and --skip accept for this exercise (read from
    the checks module's source, so that a typo is answered before torch is imported)."""
    names = dict(ENGINE_CHECKS)
    names.update(static.checks_of(exercise.checks))
    return sorted(set(names.values())), sorted(names)


def accepted_options(exercise: Exercise) -> tuple[str, ...]:
    """The grade options (keys of GradeContext.options) this exercise's checks read."""
    return exercise.grading.options


def validate_request(exercise: Exercise, only=None, skip=None, options=None) -> None:
    """UsageError, before anything runs, for a check name that does not exist (a typo in
    --only would otherwise grade nothing and pass) or an option the exercise does not take."""
    categories, checks = selectable_names(exercise)
    known = set(categories) | set(checks)
    for flag, given in (("--only", only), ("--skip", skip)):
        if flag == "--skip" and given and not set(given) <= known:
            # Skipping what this exercise lacks is harmless (a script may pass `--skip speed`
            # to every exercise); only a name no exercise has is a typo.
            from grader.catalog import exercise_names, load_exercise

            for other in exercise_names():
                with contextlib.suppress(Exception):
                    known |= {n for names in selectable_names(load_exercise(other)) for n in names}
        unknown = [name for name in given or () if name not in known]
        if unknown:
            raise UsageError(t("unknown_check", flag=flag, names=", ".join(map(repr, unknown)),
                               exercise=exercise.name, categories=", ".join(categories),
                               checks=", ".join(checks)))
    for key in options or {}:
        if key not in accepted_options(exercise):
            raise UsageError(t("option_not_for", option=key.replace("_", "-"), exercise=exercise.name))


def resolve_device(device: str) -> str:
    if device not in ("cpu", "cuda", "auto"):
        raise UsageError(f"unknown device {device!r}; use cpu, cuda or auto")
    if device == "auto":
        return "cuda" if _cuda_ok() else "cpu"
    return device


def _nvidia_driver_present() -> bool:
    """Without an NVIDIA driver CUDA cannot be available: no need to import torch to know."""
    return os.path.exists("/proc/driver/nvidia/version") or any(
        name.startswith("nvidia") for name in _listdir("/dev"))


def _listdir(folder):
    try:
        return os.listdir(folder)
    except OSError:
        return []


def new_seed() -> int:
    return random.SystemRandom().randrange(2**31)


# Terminal control characters other than newline and tab, shown escaped: a submission's output
# or error message must not clear the screen, move the cursor or recolour the verdict.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def make_sanitizer(learner_path: Path):
    replacements = [(str(learner_path.parent) + os.sep, ""), (str(KIT_ROOT) + os.sep, ""),
                    (str(Path.home()), "~")]

    def sanitize(text: str) -> str:
        for old, new in replacements:
            text = text.replace(old, new)
        return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)

    return sanitize


def _load_results(child: ChildProcess, sanitize) -> list[CheckResult]:
    load = child.load
    file = child.path.name
    if load.ok:
        imports = CheckResult("module_imports", "interface", Status.PASSED)
        if load.missing:
            defines = CheckResult("defines_required_names", "interface", Status.FAILED,
                                  sanitize(_missing_message(load, child.path)))
        else:
            defines = CheckResult("defines_required_names", "interface", Status.PASSED)
        return [imports, defines]
    error = load.error or {}
    if error.get("kind") == "syntax":
        message = t("syntax_error", where=error.get("where", file), message=error.get("message"))
    elif error.get("kind") == "sandbox":
        message = error.get("message", "")
    elif error.get("kind") == "not_implemented":
        message = t("not_implemented_at_import")
    else:
        where = f" ({error['where']})" if error.get("where") else ""
        message = t("import_raised", file=file, type=error.get("type"), message=error.get("message"),
                    where=where)
    status = Status.TIMEOUT if error.get("status") == "timeout" else Status.FAILED
    return [CheckResult("module_imports", "interface", status, sanitize(message)),
            CheckResult("defines_required_names", "interface", Status.SKIPPED,
                        t("not_run_no_import"))]


def _implemented_result(stubs: dict[str, int], file: Path) -> CheckResult:
    if not stubs:
        return CheckResult("functions_implemented", "interface", Status.PASSED)
    listed = ", ".join(f"{name} ({file.name} line {line})" for name, line in stubs.items())
    return CheckResult("functions_implemented", "interface", Status.FAILED,
                       t("not_implemented_functions", listed=listed))


def _missing_message(load, file: Path) -> str:
    message = t("missing_name" if len(load.missing) == 1 else "missing_names",
                names=", ".join(load.missing), file=file.name)
    guesses = [f"`{close[0]}` for `{name}`" for name in load.missing
               if (close := difflib.get_close_matches(name, load.defined, n=1, cutoff=0.6))]
    return message + (t("did_you_mean", guesses=", ".join(guesses)) if guesses else "")


def grade(exercise: Exercise, file: Path, *, device: str = "auto", seed: int | None = None,
          thorough: bool = False, only: list[str] | None = None,
          skip: list[str] | None = None, live=None,
          options: dict | None = None, replay_base: str = "", on_result=None) -> GradeReport:
    """validate, start the child, run the checks, build the result, in that order.

    The parent imports torch, the reference and the checks while the child imports the
    submission; an import failure, a missing name or an untouched stub ends the grading
    there, without running a check whose every result would say the same."""
    started = time.perf_counter()
    validate_request(exercise, only, skip, options)
    device = resolve_device(device)
    seed = new_seed() if seed is None else seed
    file = Path(file).resolve()
    sanitize = make_sanitizer(file)
    required = list(exercise.functions)
    threads = exercise.grading.threads
    child_device = device if device == "cpu" or _cuda_ok() else "cpu"

    integrity = Integrity(exercise, file, options)
    stubs = static.stub_functions(file, required)
    child = ChildProcess(file, require=required, threads=threads, device=child_device,
                         **integrity.child_limits())
    integrity.before_submission()
    try:
        child.launch()
        from grader import api
        from grader.plugin import GraderPlugin

        reference = integrity.reference_module()
        importlib.import_module(f"grader.checks.{exercise.name}")   # imported while the child loads
        child.wait_loaded()
    except SandboxError as exc:
        child.load = _failed_load(exc)
    results = _load_results(child, sanitize)
    ready = child.load.ok and not child.load.missing
    if ready:
        results.append(_implemented_result(stubs, file))
    if on_result is not None:   # on screen before the checks start
        for result in results:
            on_result(result)
    if not ready or (stubs and set(stubs) >= set(static.defined_functions(file)) & set(required)):
        child.close()
        results.append(integrity.result(child, checks_ran=False))
        report = GradeReport(exercise.name, _display_path(file), device, seed, results,
                             time.perf_counter() - started)
        report.not_run = len(static.checks_of(exercise.checks))
        return _with_output(report, child, sanitize)

    context = api.GradeContext(exercise.name, device, seed, thorough, replay_base=replay_base,
                               live=live, options=options or {}, on_result=on_result)
    api.load_hypothesis_profile()
    learner = Learner(child, child_device, exercise.grading.call_timeout_s)
    for name, line in stubs.items():
        learner.mark_unimplemented(name, f"not implemented yet ({file.name} line {line})")
    learner.settled_unimplemented.update(stubs)

    reference_child = ReferenceChild(exercise, integrity, threads, child_device)
    plugin = GraderPlugin(context, learner, reference, reference_child, sanitize)
    learner.plugin = plugin
    plugin.only = set(only) if only else None
    plugin.skip = set(skip) if skip else None
    try:
        results += run_checks(exercise, seed, plugin, sanitize)
    finally:
        plugin.close()
        child.close()
    results.append(integrity.result(child))
    if only:
        results = [r for r in results if r.name in only or r.category in only
                   or r.category in ("interface", "integrity")]
    if skip:
        results = [r for r in results if r.name not in skip and r.category not in skip]
    report = GradeReport(exercise.name, _display_path(file), device, seed, results,
                         time.perf_counter() - started, extras=context.extras)
    return _with_output(report, child, sanitize)


class ReferenceChild:
    """The reference in a sandboxed child of its own, for the speed checks.

    launch() starts it as soon as the checks to run are known to need it, so that its
    interpreter imports torch while the correctness checks run; calling the object waits for
    it. Integrity is asked at both times: the child is not started next to planted code or a
    changed kit, nor used if either happened while it was starting (it imports nothing
    after loading, so what it loaded is what was there when it started)."""

    def __init__(self, exercise: Exercise, integrity: Integrity, threads, device: str):
        self.exercise, self.integrity, self.threads, self.device = exercise, integrity, threads, device
        self.child: ChildProcess | None = None
        self.refused: Exception | None = None
        self.used = False

    def launch(self) -> None:
        if self.child is not None or self.refused is not None:
            return
        try:   # called from pytest's collection: whatever goes wrong is the speed check's to report
            self.integrity.before_reference()
            self.child = ChildProcess(self.exercise.solution, threads=self.threads, device=self.device,
                                      trust_files_before_ns=self.integrity.trust_files_before_ns)
            self.child.launch()
        except Exception as exc:
            self.close()
            self.child, self.refused = None, exc

    def __call__(self) -> Learner:
        self.launch()
        if self.refused is not None:
            raise self.refused
        try:
            self.integrity.before_reference()
        except RuntimeError:
            self.close()
            raise
        self.used = True
        load = self.child.wait_loaded()
        if not load.ok:
            raise RuntimeError(f"the reference solution failed to load: {load.error}")
        return Learner(self.child, self.device, 120.0)

    def close(self) -> None:
        if self.child is not None:
            self.child.close(wait=self.used)


def run_checks(exercise: Exercise, seed: int, plugin, sanitize) -> list[CheckResult]:
    """The checks module as a pytest session with the grader's plugin; its results."""
    args = [str(exercise.checks), "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:randomly",
            "-p", "no:xdist", "-p", "no:benchmark", "-p", "no:unraisableexception", "--noconftest", "--assert=plain",
            "-c", os.devnull, "--rootdir", str(exercise.checks.parent), "-o", "python_functions=check_*",
            "-o", "python_classes=", "--capture=sys", f"--hypothesis-seed={seed}", "-W", "ignore"]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = pytest_main(args, plugin)
    if int(code) in (0, 1, 5):
        return plugin.results
    last = (sink.getvalue().strip().splitlines() or ["no output"])[-1]
    return plugin.results + [CheckResult("grader_session", "interface", Status.ERROR,
                                         f"internal grader error (pytest exit {int(code)}): {sanitize(last)}")]


def _with_output(report: GradeReport, child: ChildProcess, sanitize) -> GradeReport:
    report.learner_output = sanitize(child.output.decode(errors="replace"))
    report.learner_output_bytes = child.output_total
    return report


def pytest_main(args, plugin):
    import pytest

    return pytest.main(args, plugins=[plugin])


def _cuda_ok() -> bool:
    if sys.platform.startswith("linux") and not _nvidia_driver_present():
        return False
    import torch

    return torch.cuda.is_available()


def _failed_load(exc: SandboxError):
    from grader.sandbox import LoadResult

    status = getattr(exc, "status", "error")
    return LoadResult(False, error={"kind": "sandbox", "status": status,
                                    "message": str(exc)})


def _display_path(file: Path) -> str:
    for base in (Path.cwd(), KIT_ROOT):
        try:
            return str(file.relative_to(base))
        except ValueError:
            continue
    return file.name
