"""What the grader reads from source text without running it (ast only, no import).

Used before any torch import, so that usage errors and an untouched stub are answered
at once: the check names and options of a checks module, and which of a submission's
required functions are still the stub's bare `raise NotImplementedError`.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None


@lru_cache(maxsize=None)
def _checks_module_tree(path: str, mtime_ns: int) -> ast.Module:
    tree = _parse(Path(path))
    if tree is None:
        raise RuntimeError(f"cannot parse {path}")
    return tree


# The category of each check the loss factory makes (grader/loss_checks.py uses this table too).
FACTORY_CATEGORIES = {
    "rejects": "interface", "worked_example": "correctness", "matches_reference": "correctness",
    "gradients_match_reference": "gradients", "gradcheck_float64": "gradients",
    "inputs_not_modified": "hygiene", "dtype_device_and_0dim": "hygiene",
    "output_keeps_autograd_graph": "hygiene", "speed_vs_reference": "speed",
}


def checks_of(path: Path) -> dict[str, str]:
    """{check name: category} of a checks module: its check_* functions with @check("category"),
    and its `check_x = LOSS.factory_method(...)` lines (grader/loss_checks.py)."""
    tree = _checks_module_tree(str(path), Path(path).stat().st_mtime_ns)
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("check_"):
            found[node.name.removeprefix("check_")] = _category(node)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and node.targets[0].id.startswith("check_") and isinstance(node.value, ast.Call)
              and isinstance(node.value.func, ast.Attribute) and node.value.func.attr in FACTORY_CATEGORIES):
            found[node.targets[0].id.removeprefix("check_")] = FACTORY_CATEGORIES[node.value.func.attr]
    return found


def _category(node: ast.FunctionDef) -> str:
    for deco in node.decorator_list:
        if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) and deco.func.id == "check"
                and deco.args and isinstance(deco.args[0], ast.Constant)):
            return str(deco.args[0].value)
    return "correctness"


def constant_of(path: Path, name: str, default=()):
    """A module-level literal (OPTIONS = ("budget", ...)) of a checks module."""
    tree = _checks_module_tree(str(path), Path(path).stat().st_mtime_ns)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return default
    return default


def stub_functions(path: Path, names) -> dict[str, int]:
    """{name: line} for each required top-level function whose whole body (after its
    docstring) is `raise NotImplementedError` / `raise NotImplementedError(...)`."""
    tree = _parse(path)
    if tree is None:
        return {}
    wanted = set(names)
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in wanted:
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body = body[1:]
            if len(body) == 1 and _raises_not_implemented(body[0]):
                found[node.name] = body[0].lineno
                continue
        # a later definition, assignment or import of the name replaces the stub
        for name in _bound_names(node):
            found.pop(name, None)
    return found


def _bound_names(node) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _raises_not_implemented(stmt) -> bool:
    if not isinstance(stmt, ast.Raise) or stmt.exc is None:
        return False
    exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def defined_functions(path: Path) -> list[str]:
    """Names of the top-level functions a file defines (empty if it does not parse)."""
    tree = _parse(path)
    return [] if tree is None else [n.name for n in tree.body
                                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
