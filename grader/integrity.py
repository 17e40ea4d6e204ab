"""Integrity: what keeps a submission from reaching what the grader keeps from it.

One component with a small interface, used by the engine in this order:

    integrity = Integrity(exercise, file, options)
    child = ChildProcess(file, **integrity.child_limits(), ...)
    integrity.before_submission()        # fingerprint, the reference's bytes, the import guard
    reference = integrity.reference_module()
    ...                                  # the submission runs
    integrity.before_reference()         # raises if code was planted or the kit changed
    result = integrity.result(child)     # the does_not_use_reference check

It holds the kit's fingerprint (sources hashed, caches by size and times), the import guard
(grader/importguard.py: code written while the submission ran is refused), the scan for
planted start-up files and modules, and what the child is denied: the references and the
catalogue of right answers (the audit hook in grader/child.py and Landlock in
grader/landlock.py), the kit's history and the learner's progress records, and the data a
checks module keeps private (contrastive_mnist's labels). The reference itself runs
unguarded. SECURITY.md describes the threat model.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import sys
import time
from pathlib import Path

from grader import importguard, static
from grader.catalog import KIT_ROOT, SOLUTIONS_DIR, Exercise
from grader.results import CheckResult, Status

BLOCKED_MODULES = ("solutions", "grader")
# What a submission may not read: the references, and the kit's catalogue of right answers.
GUARDED_DIRS = [SOLUTIONS_DIR, KIT_ROOT / "tests" / "submissions"]


class Integrity:
    def __init__(self, exercise: Exercise, file: Path, options: dict | None = None):
        self.exercise = exercise
        self.file = Path(file).resolve()
        self.options = options or {}
        self.is_reference = self.file == exercise.solution.resolve()
        self.fingerprint: dict[str, str] | None = None
        self.reference_source = b""
        self.started_ns: int | None = None
        self.import_guard = None
        self.refused_before = 0   # the guard lives as long as the process (watch, mock, dev check)
        self.planted: list[str] = []

    def child_limits(self) -> dict:
        """The ChildProcess arguments that guard the submission's child."""
        if self.is_reference:
            return {"guard_dirs": [], "deny_read_dirs": [], "private_paths": [], "blocked_modules": ()}
        return {"guard_dirs": GUARDED_DIRS, "deny_read_dirs": GUARDED_DIRS + _kit_private_dirs(self.file),
                "private_paths": _private_paths(self.exercise, self.options),
                "blocked_modules": BLOCKED_MODULES}

    def before_submission(self) -> None:
        """Just before the submission's child starts: what later comparisons need."""
        sys.dont_write_bytecode = True  # from here on a new .pyc in the kit is not ours
        self.fingerprint = None if self.is_reference else _kit_fingerprint()
        self.reference_source = self.exercise.solution.read_bytes()
        # Whatever this process (torch, pytest's lazy imports, rich while rendering) or the
        # reference's child imports from now on must not come from a file written after the
        # submission started.
        self.started_ns = time.time_ns()
        self.import_guard = None if self.is_reference else importguard.install(self.started_ns)
        self.refused_before = len(self.import_guard.refused) if self.import_guard else 0

    def reference_module(self):
        """The reference module, from the source read before the submission started (the file
        on disk may have been rewritten since; result() reports that)."""
        solution = self.exercise.solution
        spec = importlib.util.spec_from_file_location(f"_reference_{self.exercise.name}", solution)
        module = importlib.util.module_from_spec(spec)
        exec(compile(self.reference_source, str(solution), "exec"), module.__dict__)
        return module

    @property
    def trust_files_before_ns(self) -> int | None:
        """For the reference's child: refuse modules written after the submission started."""
        return None if self.is_reference else self.started_ns

    def scan_planted(self, set_aside_modules: bool = False) -> list[str]:
        if not self.is_reference:
            self.planted.extend(importguard.planted_files(self.started_ns, _import_folders(),
                                                          exclude={str(self.file)},
                                                          set_aside_modules=set_aside_modules))
        return self.planted

    def before_reference(self) -> None:
        """RuntimeError if the reference's child must not start: code was planted where Python
        loads it from, or the kit's files changed (a forged cache is deleted first)."""
        found = self.scan_planted()
        if found:
            raise RuntimeError(f"files were planted where Python loads code from while the submission ran "
                               f"({'; '.join(found)}); the reference is not started next to them")
        changed = self._changed()
        if changed:
            raise RuntimeError(f"the kit's files changed while the submission ran ({', '.join(changed)}); "
                               f"the reference is not run from them")

    def result(self, child, *, checks_ran: bool = True) -> CheckResult:
        """The does_not_use_reference check, after the submission's child has closed. When no
        check ran, no guarded import met a planted module: every module written meanwhile is set
        aside, so that a later grading (to which it is no longer new) cannot import it either."""
        self.scan_planted(set_aside_modules=not checks_ran)
        changed = self._changed()
        refused = (self.import_guard.refused[self.refused_before:] if self.import_guard else []) + \
            [f"planted {f}" for f in self.planted]
        if refused:
            return CheckResult("does_not_use_reference", "integrity", Status.FAILED,
                               f"the grader refused code written while the submission ran for Python to load: "
                               f"{'; '.join(dict.fromkeys(refused))}")
        if changed:
            return CheckResult("does_not_use_reference", "integrity", Status.FAILED,
                               f"the kit's own files changed while the submission ran: {', '.join(changed)}; "
                               f"restore them (git checkout, or reinstall the kit) before grading again")
        if child.integrity_events:
            detail = "; ".join(dict.fromkeys(child.integrity_events))
            return CheckResult("does_not_use_reference", "integrity", Status.FAILED,
                               f"the submission tried to read what the grader keeps from it: {detail}")
        return CheckResult("does_not_use_reference", "integrity", Status.PASSED)

    def _changed(self) -> list[str]:
        changed = _changed_files(self.fingerprint)
        _remove_forged_caches(changed)
        return changed


def _private_paths(exercise: Exercise, options: dict) -> list:
    """The data a checks module keeps from the submission (contrastive_mnist's labels)."""
    if "private_paths" not in static.defined_functions(exercise.checks):
        return []
    module = importlib.import_module(f"grader.checks.{exercise.name}")
    return module.private_paths(options)


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
