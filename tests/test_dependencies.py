"""Declared dependencies between checks (api.check(depends=...), CATEGORY_DEPENDS) when --only
leaves a prerequisite out: it runs first, unreported, and its failure is the selected check's."""

import types

import pytest

from conftest import SUBMISSIONS, grade_json, statuses
from grader.plugin import GraderPlugin


class Marker:
    def __init__(self, *args):
        self.args = args


class Item:
    def __init__(self, name, category, depends=(), module=None):
        self.name, self.nodeid = f"check_{name}", f"m.py::check_{name}"
        self._category, self._depends = category, depends
        self.module = module

    def get_closest_marker(self, name):
        return Marker(self._category) if name == "category" else None

    def iter_markers(self, name):
        return [Marker(*self._depends)] if name == "depends" and self._depends else []


class Config:
    class hook:
        @staticmethod
        def pytest_deselected(items):
            pass


def collected(only, skip=None):
    module = types.SimpleNamespace(CATEGORY_DEPENDS={"training": ("unit_a", "unit_b")})
    items = [Item("unit_a", "interface", module=module), Item("unit_b", "properties", module=module),
             Item("other", "hygiene", module=module),
             Item("train", "training", module=module),
             Item("probe", "training", depends=("train",), module=module)]
    plugin = GraderPlugin(context=None, learner=None, reference=None, reference_child_factory=None, sanitize=str)
    plugin.only, plugin.skip = set(only), set(skip or ())
    plugin.pytest_collection_modifyitems(Config, items)
    return [item.name.removeprefix("check_") for item in items], plugin


def test_the_prerequisites_of_a_selected_check_run_first_unreported_and_transitively():
    names, plugin = collected({"probe"})
    assert names == ["unit_a", "unit_b", "train", "probe"]      # in check order; "other" is not needed
    assert plugin._unreported == {"unit_a", "unit_b", "train"}


def test_a_prerequisite_that_is_selected_or_skipped_is_not_added_unreported():
    names, plugin = collected({"probe", "train"}, skip={"unit_b"})
    assert names == ["unit_a", "train", "probe"]
    assert plugin._unreported == {"unit_a"}
    assert collected({"other"})[0] == ["other"]


def test_a_failed_prerequisite_left_out_by_only_is_reported_as_the_selected_checks_failure():
    doc = grade_json("nt_xent", "--file", SUBMISSIONS / "nt_xent" / "wrong_temperature_multiplied.py", "--seed", "0",
                     "--only", "gradients_match_reference")
    got = statuses(doc)
    assert "matches_reference" not in got                     # it ran, unreported
    assert got["gradients_match_reference"] == "failed"
    check = next(c for c in doc["checks"] if c["name"] == "gradients_match_reference")
    assert check["message"].startswith("needs matches_reference, which failed: loss: values differ"), check["message"]
    assert "nt_xent(z1=" in check["input"] and check["replay"].endswith("--only matches_reference")


@pytest.mark.slow
def test_a_training_check_asked_for_alone_runs_the_unit_checks_first():
    doc = grade_json("contrastive_mnist", "--file", SUBMISSIONS / "contrastive_mnist" / "wrong_overruns_budget.py",
                     "--seed", "0", "--only", "trains_within_budget")
    check = next(c for c in doc["checks"] if c["name"] == "trains_within_budget")
    assert check["status"] in ("failed", "timeout")
    assert check["message"].startswith("needs train_encoder_returns_encoder"), check["message"]
    assert "train_encoder_returns_encoder" not in statuses(doc)
