"""A tiny run of the benchmark suite, so that it cannot rot (peers may be absent: n/a)."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import grade_timing, losses, suite

STATUSES = {"ok", "n/a", "oom", "skipped", "error"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "smoke.json"
    code = losses.main(["--sizes", "8", "--dims", "4", "--reps", "1", "--memory", "reference",
                        "--cap-gb", "0", "--json", str(path)])
    assert code == 0
    return json.loads(path.read_text())


def test_smoke_run_covers_every_problem_and_implementation(smoke):
    assert smoke["machine"]["torch_threads"] == 1
    cases = {(c["problem"], c["mode"]): c for c in smoke["cases"]}
    assert set(cases) == {("nt_xent", ""), ("info_nce", "in-batch"), ("info_nce", "unpaired"), ("nce_loss", "")}
    for (problem, _), case in cases.items():
        assert list(case["results"]) == [i.key for i in suite.IMPLS[problem]]
        for key, res in case["results"].items():
            assert res["status"] in STATUSES, (problem, key, res)
            if res["status"] == "ok":
                assert res["median_s"] > 0 and res["reps"] == 1
        floor = case["results"][suite.IMPLS[problem][0].key]
        assert floor["status"] == "ok" and floor["ratio"] == pytest.approx(1.0)


def test_our_nt_xent_versions_always_run_and_report_memory(smoke):
    nt = next(c for c in smoke["cases"] if c["problem"] == "nt_xent")["results"]
    for key in ("reference", "fused", "blockwise", "simclr"):      # no optional dependency
        assert nt[key]["status"] == "ok", nt[key]
    mem = nt["reference"]["memory"]
    assert mem["status"] == "ok" and mem["peak_bytes"] >= 0, mem
    assert "memory" not in nt["fused"]                             # --memory reference only


def test_a_peer_that_disagrees_stops_the_run():
    wrong = suite.Impl("wrong", "off by 1%", "peer",
                       lambda: suite.loss_step(lambda x: 1.01 * suite._nt(suite.peers.simclr_official_nt_xent, x)))
    impls = [suite.find_impl("nt_xent", "reference"), wrong]
    with pytest.raises(AssertionError, match="does not compute our loss"):
        suite.time_case(suite.Case("nt_xent", 6, 3), impls, reps=1, budget_s=1.0)


def test_missing_peer_is_reported_not_raised():
    def load():
        raise suite.Unavailable("not installed here")

    impls = [suite.find_impl("nt_xent", "floor"), suite.Impl("ghost", "ghost", "peer", load)]
    out = suite.time_case(suite.Case("nt_xent", 4, 3), impls, reps=1, budget_s=1.0)
    assert out["ghost"].status == "n/a" and out["ghost"].note == "not installed here"
    assert out["floor"].status == "ok"


def test_out_of_memory_is_reported_not_raised():
    def load():
        def step(inputs):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                               "8581545984 bytes. Error code 12 (Cannot allocate memory)")
        return step

    out = suite.time_case(suite.Case("nt_xent", 4, 3), [suite.Impl("big", "big", "peer", load)],
                          reps=1, budget_s=1.0)
    assert out["big"].status == "oom" and "8.6 GB" in out["big"].note


def test_installed_peers_compute_our_loss():
    """Each installed peer, called as the suite calls it, agrees with our reference (else skipped)."""
    checked = 0
    for problem, mode in (("nt_xent", ""), ("info_nce", "in-batch"), ("info_nce", "unpaired")):
        case = suite.Case(problem, 12, 5, "float64", mode=mode)
        inputs = suite.make_inputs(case, seed=3)
        try:
            want = suite.find_impl(problem, "reference").load()(inputs)
        except suite.Unavailable:
            continue
        for impl in suite.IMPLS[problem]:
            if impl.role != "peer":
                continue
            try:
                step = impl.load()
            except suite.Unavailable:
                continue
            assert suite.disagreement(step(inputs), want, torch.float64) is None, (problem, impl.key)
            checked += 1
    if not checked:
        pytest.skip("no peer installed (pip install -e '.[bench]')")


def test_grade_timing_summary_splits_the_wall_time():
    runs = [{"wall_s": w, "engine_s": w - 2, "process_start_s": 2.0, "engine_overhead_s": 1.0,
             "checks_s": 1.5, "speed_s": w - 4.5, "passed": True, "per_check": {"speed_vs_reference": w - 4.5,
                                                                               "matches_reference": 0.5}}
            for w in (10.0, 12.0, 30.0)]
    for run, first in zip(runs, (1.5, 1.9, None)):   # None: no result line seen on the terminal
        run["first_result_s"], run["terminal_wall_s"] = first, run["wall_s"] + 0.5
    s = grade_timing.summarize(runs)
    assert s["wall_s"] == 12.0 and s["startup_s"] == 3.0 and s["speed_s"] == 7.5
    assert s["first_result_s"] == pytest.approx(1.7) and s["terminal_wall_s"] == 12.5
    assert s["slowest_checks"][0][0] == "speed_vs_reference" and s["under_budget"]
