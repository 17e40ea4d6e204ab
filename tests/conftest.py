"""Shared helpers for the project's own tests: run the real `grade` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
