"""The reference's own child (engine.ReferenceChild): started while the correctness checks run,
only when a check to run needs it, and never used once integrity objects."""

import pytest

from grader import engine
from grader.plugin import GraderPlugin


class Counting:
    def __init__(self):
        self.launched = 0

    def launch(self):
        self.launched += 1


class Item:
    def __init__(self, name, category, fixtures):
        self.name, self.fixturenames = f"check_{name}", fixtures
        self.nodeid, self.module = f"m.py::check_{name}", None
        self._category = category

    def get_closest_marker(self, name):
        return type("Marker", (), {"args": (self._category,)})() if name == "category" else None

    def iter_markers(self, name):
        return []


class Config:
    class hook:
        @staticmethod
        def pytest_deselected(items):
            pass


def items():
    return [Item("matches_reference", "correctness", ["learner", "reference"]),
            Item("speed_vs_reference", "speed", ["learner", "reference_child", "seed"])]


@pytest.mark.parametrize("only, skip, launched", [
    (None, None, 1),
    (None, {"speed"}, 0),
    ({"matches_reference"}, None, 0),
    ({"speed_vs_reference"}, None, 1),
])
def test_the_reference_child_starts_at_collection_only_when_a_selected_check_needs_it(only, skip, launched):
    factory = Counting()
    plugin = GraderPlugin(context=None, learner=None, reference=None, reference_child_factory=factory,
                          sanitize=str)
    plugin.only, plugin.skip = only, skip
    plugin.pytest_collection_modifyitems(Config, items())
    assert factory.launched == launched


class FakeChild:
    instances = []

    def __init__(self, path, **kwargs):
        self.launched = self.closed = self.waited = False
        FakeChild.instances.append(self)

    def launch(self):
        self.launched = True

    def wait_loaded(self):
        self.waited = True
        return type("Load", (), {"ok": True})()

    def close(self, wait=True):
        self.closed = True


class Integrity:
    trust_files_before_ns = 1

    def __init__(self, refuse_on_call):
        self.calls, self.refuse_on_call = 0, refuse_on_call

    def before_reference(self):
        self.calls += 1
        if self.calls == self.refuse_on_call:
            raise RuntimeError("files were planted")


@pytest.mark.parametrize("refuse_on_call", [1, 2])
def test_the_reference_child_is_not_used_when_integrity_objects_at_launch_or_at_first_use(monkeypatch,
                                                                                        refuse_on_call):
    monkeypatch.setattr(engine, "ChildProcess", FakeChild)
    FakeChild.instances.clear()
    ref = engine.ReferenceChild(exercise=type("E", (), {"solution": "s.py"})(), integrity=Integrity(refuse_on_call),
                                threads=1, device="cpu")
    ref.launch()
    with pytest.raises(RuntimeError, match="planted"):
        ref()
    assert not any(child.waited for child in FakeChild.instances)
    assert all(child.closed for child in FakeChild.instances)   # started at launch, closed on refusal
    assert len(FakeChild.instances) == (0 if refuse_on_call == 1 else 1)


def test_a_launched_reference_child_is_waited_for_and_checked_again_when_used(monkeypatch):
    monkeypatch.setattr(engine, "ChildProcess", FakeChild)
    FakeChild.instances.clear()
    integrity = Integrity(refuse_on_call=0)
    ref = engine.ReferenceChild(exercise=type("E", (), {"solution": "s.py"})(), integrity=integrity,
                                threads=1, device="cpu")
    ref.launch()
    ref.launch()
    learner = ref()
    assert len(FakeChild.instances) == 1 and FakeChild.instances[0].waited
    assert integrity.calls == 2 and learner.child is FakeChild.instances[0]


def test_a_reference_child_that_cannot_start_fails_the_check_that_uses_it_not_the_collection(monkeypatch):
    class Unstartable(FakeChild):
        def launch(self):
            raise OSError("no more processes")

    monkeypatch.setattr(engine, "ChildProcess", Unstartable)
    ref = engine.ReferenceChild(exercise=type("E", (), {"solution": "s.py"})(), integrity=Integrity(refuse_on_call=0),
                                threads=1, device="cpu")
    ref.launch()                                  # at collection: nothing raised there
    with pytest.raises(OSError, match="no more processes"):
        ref()
