"""Shared helpers for the project's own tests: run the real `grade` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


def run_grade(*args, timeout=600, env=None, cwd=None) -> subprocess.CompletedProcess:
    """Run `python -m grader ARGS` and return the finished process (text mode)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=cwd or ROOT)


def grade_json(exercise, *args, **kw) -> dict:
    """Grade with --json; the document must parse and stdout must hold nothing else."""
    proc = run_grade(exercise, "--json", *args, **kw)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    doc = json.loads(proc.stdout)
    assert doc["passed"] == (proc.returncode == 0)
    return doc


def statuses(doc: dict) -> dict:
    return {c["name"]: c["status"] for c in doc["checks"]}


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Every test records progress in its own folder, never in the user's real state."""
    folder = tmp_path / "state"
    monkeypatch.setenv("CONTRASTIVE_KIT_STATE_DIR", str(folder))
    # English unless a test asks otherwise, whatever the machine's locale
    monkeypatch.setenv("CONTRASTIVE_KIT_LANG", "en")
    return folder


# -- the catalogue's fast part, graded beside the other tests (tests/test_catalogue.py) --------
_catalogue_workers: dict[str, dict] = {}


def pytest_collection_modifyitems(config, items):
    """The catalogue's fast-part tests last: by then their processes have graded beside the rest."""
    items.sort(key=lambda item: getattr(item, "originalname", "") == "test_catalogue_fast_part")


def pytest_collection_finish(session):
    """Start `grade dev check --part fast` for the exercises whose fast-part test is selected, in
    two processes (one per core here), while the other tests run; each test reads its result."""
    wanted = [item.callspec.params["exercise"] for item in session.items
              if item.originalname == "test_catalogue_fast_part"]
    if not wanted:
        return
    from grader import devcheck

    sizes = {name: len(devcheck.catalogue(name)) for name in wanted}
    groups: list[list[str]] = [[], []]
    for name in sorted(wanted, key=sizes.get, reverse=True):   # balance the files per process
        min(groups, key=lambda g: sum(sizes[n] for n in g)).append(name)
    folder = Path(tempfile.mkdtemp(prefix="contrastive-kit-catalogue-"))
    for i, group in enumerate(g for g in groups if g):
        log = folder / f"worker{i}.log"
        env = dict(os.environ, CONTRASTIVE_KIT_STATE_DIR=str(folder / f"state{i}"), CONTRASTIVE_KIT_LANG="en",
                   COLUMNS="200")
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "grader", "dev", "check", *group, "--part", "fast"],
                                    stdout=out, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
        worker = {"proc": proc, "log": log}
        for name in group:
            _catalogue_workers[name] = worker


def pytest_sessionfinish(session, exitstatus):
    for worker in _catalogue_workers.values():   # a session stopped early (-x, Ctrl-C) stops them too
        if worker["proc"].poll() is None:
            worker["proc"].kill()
            worker["proc"].wait()


def catalogue_result(exercise: str) -> tuple[int, str, str]:
    """(return code, output, "") of the fast-part process that checked exercise."""
    worker = _catalogue_workers.get(exercise)
    if worker is None:   # not started at collection (the test was run some other way)
        proc = run_grade("dev", "check", exercise, "--part", "fast", timeout=1800, env={"COLUMNS": "200"})
        return proc.returncode, proc.stdout, proc.stderr
    code = worker["proc"].wait(timeout=1800)
    return code, worker["log"].read_text(), ""
