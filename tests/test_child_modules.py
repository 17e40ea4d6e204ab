"""The child's module operations: build_module, module_state, backward, loss_fn, and Handles as
positional arguments. Each is checked against the same computation done here, in a right and
a wrong use."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grader.sandbox import ChildProcess, Handle, Learner, LearnerRaised
from grader.strategies import MlpCase, module_description

SUBMISSION = '''
import torch


def forward(module, x):
    return module(x)


def forward_method(module, x):
    return module.forward(x)


def loss_and_count(module, x):
    return module(x).square().sum(), 3


def no_grad_forward(module, x):
    with torch.no_grad():
        return module(x)


def apply(fn, a, b):
    return fn(a, b)
'''


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    path = tmp_path_factory.mktemp("child") / "submission.py"
    path.write_text(SUBMISSION)
    child = ChildProcess(path, threads=1)
    assert child.start().ok
    yield Learner(child, "cpu")
    child.close()


CASE = MlpCase((3, 5, 2), "tanh", True, "float64", 7)


def test_a_built_module_computes_what_its_description_says(learner):
    local = CASE.module()
    handle = learner.build_module(module_description(local), label=CASE.label)
    assert isinstance(handle, Handle) and repr(handle) == f"<the grader's {CASE.label}>"
    x = torch.randn(4, 3, dtype=torch.float64)
    for target in ("forward", "forward_method"):
        got = learner.call(target, handle, x).output.tensor
        torch.testing.assert_close(got, local(x))   # train mode: batch statistics, running ones updated
    state = learner.module_state(handle)
    for name, value in local.named_buffers():
        torch.testing.assert_close(state["buffers"][name], value)
    for name, value in local.named_parameters():
        torch.testing.assert_close(state["parameters"][name], value.detach())
        assert state["grads"][name] is None


def test_backward_accumulates_into_the_modules_grad(learner):
    local = MlpCase((3, 4, 2), "relu", False, "float32", 3).module()
    start = {name: torch.full_like(p, 0.5) for name, p in local.named_parameters()}
    handle = learner.build_module(module_description(local, grads=start))
    x = torch.randn(6, 3)
    result = learner.call("loss_and_count", handle, x, backward=0, grad_output=torch.tensor(-2.0))
    assert result.grads is None and result.output[1] == 3
    loss = local(x).square().sum()
    want = torch.autograd.grad(-2.0 * loss, list(local.parameters()))
    state = learner.module_state(handle)
    for (name, _), g in zip(local.named_parameters(), want):
        torch.testing.assert_close(state["grads"][name], start[name] + g)


def test_backward_of_an_output_that_is_no_loss_says_why(learner):
    handle = learner.build_module(module_description(CASE.module()))
    x = torch.randn(4, 3, dtype=torch.float64)
    assert "does not require grad" in learner.call("no_grad_forward", handle, x, backward=True).grads
    assert "not a tensor" in learner.call("loss_and_count", handle, x, backward=1).grads


def test_the_hook_counts_the_largest_batch_forwarded_with_grad(learner):
    handle = learner.build_module(module_description(MlpCase((3, 2), "tanh", False, "float32", 1).module()))
    learner.call("forward", handle, torch.randn(5, 3))
    learner.call("forward_method", handle, torch.randn(2, 3))
    learner.call("no_grad_forward", handle, torch.randn(9, 3))
    state = learner.module_state(handle)
    assert state["largest_grad_batch"] == 5 and state["grad_forwards"] == 2


def test_the_childs_loss_function_is_in_batch_info_nce(learner):
    fn = learner.loss_function("in_batch_info_nce", temperature=0.2)
    a, b = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    got = learner.call("apply", fn, a, b).output.tensor
    want = F.cross_entropy(F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / 0.2, torch.arange(4))
    torch.testing.assert_close(got, want)


def test_wrong_uses_are_errors_not_crashes(learner):
    good = module_description(CASE.module())
    with pytest.raises(LearnerRaised, match="KeyError"):
        learner.build_module({**good, "layers": [["conv2d", 3, 5]] + good["layers"][1:]})
    with pytest.raises(LearnerRaised, match="size mismatch"):
        learner.build_module({**good, "layers": [["linear", 3, 6]] + good["layers"][1:]})
    with pytest.raises(LearnerRaised, match="KeyError"):
        learner.loss_function("no_such_loss")
    handle = learner.build_module(good)
    learner.release(handle)
    with pytest.raises(LearnerRaised, match="KeyError"):
        learner.module_state(handle)
    with pytest.raises(LearnerRaised, match="KeyError"):
        learner.call("forward", handle, torch.randn(2, 3, dtype=torch.float64))
    # the child still answers after the errors
    assert learner.call("apply", learner.loss_function("in_batch_info_nce", temperature=1.0),
                        torch.eye(2), torch.eye(2)).output.tensor.item() > 0
