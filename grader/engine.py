"""One grading: start the sandboxed submission, run the hidden checks with pytest, collect results."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import importlib.util
import io
import os
import random
import re
import sys
import time
from pathlib import Path

from grader import importguard, static
from grader.catalog import KIT_ROOT, SOLUTIONS_DIR, Exercise, UsageError
from grader.i18n import t
from grader.results import CheckResult, GradeReport, Status
from grader.sandbox import ChildProcess, Learner, SandboxError

BLOCKED_MODULES = ("solutions", "grader")
# What a submission may not read: the references, and the kit's catalogue of right answers.
GUARDED_DIRS = [SOLUTIONS_DIR, KIT_ROOT / "tests" / "submissions"]
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
    return tuple(static.constant_of(exercise.checks, "OPTIONS", ()))


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


def _kit_fingerprint() -> dict[str, str]:
    """Every file of the references and the grader, bytecode caches included: sha256 of the
    sources, size, times and inode of the rest. A submission that rewrites a source (to make
    the reference agree with it) or forges a cached .pyc (which Python would load in place of
    the source) is caught by comparing these. Nothing in the grading writes there itself:
    the parent and its children write no bytecode while a submission runs."""
    files = sorted(p for folder in (SOLUTIONS_DIR, KIT_ROOT / "grader") for p in folder.rglob("*")
                   if p.is_file())
    prints = {}
    for path in files:
        try:
            if path.suffix == ".py":
                prints[path.relative_to(KIT_ROOT).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                st = path.stat()
                prints[path.relative_to(KIT_ROOT).as_posix()] = \
                    f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
        except OSError:
            continue
    return prints


def _import_folders() -> list[str]:
    """Where this Python looks for modules and start-up files (.pth, sitecustomize)."""
    import site

    folders = [p or os.getcwd() for p in sys.path]
    with contextlib.suppress(Exception):
        folders += site.getsitepackages() + [site.getusersitepackages()]
    return list(dict.fromkeys(f for f in folders if os.path.isdir(f)))


def _remove_forged_caches(changed: list[str]) -> None:
    """A changed or new .pyc in the kit is forged (nothing of the grader's writes one during a
    grading): delete it, so that it does not take effect in a later grading either."""
    for name in changed:
        if name.endswith(".pyc"):
            with contextlib.suppress(OSError):
                (KIT_ROOT / name).unlink()


def _changed_files(before: dict[str, str] | None) -> list[str]:
    if before is None:
        return []
    after = _kit_fingerprint()
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    return [name for name in changed if not _harmless_cache_change(name, after)]


def _harmless_cache_change(name: str, after: dict[str, str]) -> bool:
    """A .pyc that vanished, or that holds exactly its source's code (another grading running
    at the same time may write the caches), changes nothing that will run."""
    if not name.endswith(".pyc"):
        return False
    if name not in after:
        return True
    pyc = str(KIT_ROOT / name)
    try:
        source = importlib.util.source_from_cache(pyc)
    except ValueError:
        return False
    return importguard.genuine_cache(pyc, source)


def _import_reference(exercise: Exercise, source: bytes):
    """The reference module, from the source read before the submission started (the file
    on disk may have been rewritten since; the integrity check reports that)."""
    spec = importlib.util.spec_from_file_location(f"_reference_{exercise.name}", exercise.solution)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, str(exercise.solution), "exec"), module.__dict__)
    return module


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
    required = list(static.constant_of(exercise.checks, "REQUIRED", None) or exercise.functions)
    threads = static.constant_of(exercise.checks, "THREADS", 1)
    child_device = device if device == "cpu" or _cuda_ok() else "cpu"

    is_reference = file == exercise.solution.resolve()
    # Taken before the submission's code first runs; the parent's copy of the reference too.
    sys.dont_write_bytecode = True  # from here on a new .pyc in the kit is not ours
    fingerprint = None if is_reference else _kit_fingerprint()
    reference_source = exercise.solution.read_bytes()
    private = [] if is_reference else _private_paths(exercise, options or {})
    stubs = static.stub_functions(file, required)
    child = ChildProcess(file, require=required, guard_dirs=[] if is_reference else GUARDED_DIRS,
                         deny_read_dirs=[] if is_reference else GUARDED_DIRS + _kit_private_dirs(file),
                         private_paths=private,
                         blocked_modules=() if is_reference else BLOCKED_MODULES, threads=threads,
                         device=child_device)
    # Whatever this process (torch, pytest's lazy imports, rich while rendering) or the
    # reference's child imports from now on must not come from a file written after the
    # submission started.
    submission_started_ns = time.time_ns()
    import_guard = None if is_reference else importguard.install(submission_started_ns)
    try:
        child.launch()
        from grader import api
        from grader.plugin import GraderPlugin

        reference = _import_reference(exercise, reference_source)
        checks_module = importlib.import_module(f"grader.checks.{exercise.name}")
        child.wait_loaded()
    except SandboxError as exc:
        child.load = _failed_load(exc)
    results = _load_results(child, sanitize)
    ready = child.load.ok and not child.load.missing
    defined = set(static.defined_functions(file))
    if ready:
        results.append(_implemented_result(stubs, file))
    planted_so_far: list[str] = []

    def planted(set_aside_modules=False):
        if not is_reference:
            planted_so_far.extend(importguard.planted_files(submission_started_ns, _import_folders(),
                                                            exclude={str(file)},
                                                            set_aside_modules=set_aside_modules))
        return planted_so_far

    def integrity_result():
        changed = _changed_files(fingerprint)
        _remove_forged_caches(changed)
        return _integrity_result(child, changed, _refused(import_guard, planted_so_far))

    if not ready or (stubs and set(stubs) >= defined & set(required)):
        child.close()
        # Nothing of the grader's imported a planted module this time, where the import
        # guard would have set it aside: set aside every module written meanwhile, so that
        # a later grading (to which it is no longer new) cannot import it either.
        planted(set_aside_modules=True)
        results.append(integrity_result())
        report = GradeReport(exercise.name, _display_path(file), device, seed, results,
                             time.perf_counter() - started)
        report.not_run = len(static.checks_of(exercise.checks))
        report.learner_output = sanitize(child.output.decode(errors="replace"))
        report.learner_output_bytes = child.output_total
        return report

    context = api.GradeContext(exercise.name, device, seed, thorough, replay_base=replay_base,
                               live=live, options=options or {}, on_result=on_result)
    api.load_hypothesis_profile()
    learner = Learner(child, child_device, getattr(checks_module, "CALL_TIMEOUT", 10.0))
    for name, line in stubs.items():
        learner.mark_unimplemented(name, f"not implemented yet ({file.name} line {line})")
    learner.settled_unimplemented.update(stubs)

    def reference_child():
        found = planted()
        if found:
            raise RuntimeError(f"files were planted where Python loads code from while the submission ran "
                               f"({'; '.join(found)}); the reference is not started next to them")
        changed = _changed_files(fingerprint)
        if changed:
            _remove_forged_caches(changed)
            raise RuntimeError(f"the kit's files changed while the submission ran ({', '.join(changed)}); "
                               f"the reference is not run from them")
        ref = ChildProcess(exercise.solution, threads=threads, device=child_device,
                           trust_files_before_ns=None if is_reference else submission_started_ns)
        load = ref.start()
        if not load.ok:
            raise RuntimeError(f"the reference solution failed to load: {load.error}")
        return Learner(ref, child_device, 120.0)

    plugin = GraderPlugin(context, learner, reference, reference_child, sanitize)
    learner.plugin = plugin
    args = [str(exercise.checks), "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:randomly",
            "-p", "no:xdist", "-p", "no:benchmark", "--noconftest", "--assert=plain",
            "-c", os.devnull, "--rootdir", str(exercise.checks.parent), "-o", "python_functions=check_*",
            "-o", "python_classes=", "--capture=sys", f"--hypothesis-seed={seed}", "-W", "ignore"]
    plugin.only = set(only) if only else None
    plugin.skip = set(skip) if skip else None
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = pytest_main(args, plugin)
    finally:
        plugin.close()
        child.close()
    results += plugin.results
    if int(code) not in (0, 1, 5):
        last = (sink.getvalue().strip().splitlines() or ["no output"])[-1]
        results.append(CheckResult("grader_session", "interface", Status.ERROR,
                                   f"internal grader error (pytest exit {int(code)}): {sanitize(last)}"))
    planted()
    results.append(integrity_result())
    if only:
        results = [r for r in results if r.name in only or r.category in only
                   or r.category in ("interface", "integrity")]
    if skip:
        results = [r for r in results if r.name not in skip and r.category not in skip]
    report = GradeReport(exercise.name, _display_path(file), device, seed, results,
                         time.perf_counter() - started, extras=context.extras)
    report.learner_output = sanitize(child.output.decode(errors="replace"))
    report.learner_output_bytes = child.output_total
    return report


def _refused(import_guard, planted: list[str]) -> list[str]:
    return (import_guard.refused if import_guard else []) + [f"planted {f}" for f in planted]


def _private_paths(exercise: Exercise, options: dict) -> list:
    """The data a checks module keeps from the submission (contrastive_mnist's labels)."""
    if "private_paths" not in static.defined_functions(exercise.checks):
        return []
    module = importlib.import_module(f"grader.checks.{exercise.name}")
    return module.private_paths(options)


def pytest_main(args, plugin):
    import pytest

    return pytest.main(args, plugins=[plugin])


def _cuda_ok() -> bool:
    if sys.platform.startswith("linux") and not _nvidia_driver_present():
        return False
    import torch

    return torch.cuda.is_available()


def _kit_private_dirs(submission: Path) -> list[Path]:
    """Besides the references: the kit's history, and the learner's progress records (a
    submission must not forge passes or mock-interview results), unless a folder holds the
    submission itself."""
    from grader import progress

    found = [KIT_ROOT / ".git"]
    state = progress.state_dir()
    if state.resolve() not in submission.resolve().parents:
        found.append(state)
    return found


def _failed_load(exc: SandboxError):
    from grader.sandbox import LoadResult

    status = getattr(exc, "status", "error")
    return LoadResult(False, error={"kind": "sandbox", "status": status,
                                    "message": str(exc)})


def _integrity_result(child: ChildProcess, changed_files: list[str], refused: list[str]) -> CheckResult:
    if refused:
        return CheckResult("does_not_use_reference", "integrity", Status.FAILED,
                           f"the grader refused code written while the submission ran for Python to load: "
                           f"{'; '.join(dict.fromkeys(refused))}")
    if changed_files:
        return CheckResult("does_not_use_reference", "integrity", Status.FAILED,
                           f"the kit's own files changed while the submission ran: {', '.join(changed_files)}; "
                           f"restore them (git checkout, or reinstall the kit) before grading again")
    if child.integrity_events:
        detail = "; ".join(dict.fromkeys(child.integrity_events))
        return CheckResult("does_not_use_reference", "integrity", Status.FAILED,
                           f"the submission tried to read what the grader keeps from it: {detail}")
    return CheckResult("does_not_use_reference", "integrity", Status.PASSED)


def _display_path(file: Path) -> str:
    for base in (Path.cwd(), KIT_ROOT):
        try:
            return str(file.relative_to(base))
        except ValueError:
            continue
    return file.name
