"""Hidden checks for contrastive_mnist: augment, Encoder and a timed, label-free train_encoder.

Flow of the training checks: the parent loads the fixed split (grader/mnist.py)
and keeps every label. The child receives only the unlabeled training images
and the budget, trains, and keeps the returned encoder (a Handle here). The
parent then sends images (the labelled memory and the held-out digits, without
their labels) and gets features back, from the trained encoder and from a fresh
Encoder() for comparison; the cosine k-NN classifier and the linear probe run
here. Quick unit checks run first; the training checks need them
(CATEGORY_DEPENDS): if one fails, the long training is skipped, and a training
check asked for alone (--only) has them run first, unreported.

The stages (training, features, probes) are computed once per grading
(api.once) by the first check that needs them, so --only works on any check;
the checks after trains_within_budget declare that they need it, and are
skipped with a pointer to it when it did not pass. Per-grading state lives in
the grading's context (context.store), not in this module.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time
from dataclasses import dataclass, field

import torch
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from grader import mnist
from grader.api import Handle, as_tensor, check, once, once_outcome
from grader.sandbox import ChildTimeout


DEFAULT_BUDGET_S = {"cpu": 60.0, "cuda": 30.0}
CALIBRATED = {"cpu": 60.0}  # device -> the budget the bars were measured for
KNN_K = 10
# The pass bar (calibration: docs/contrastive_mnist.md). k-NN accuracy is reported, not barred: a
# textbook SimCLR's k-NN after 60 s is no better than raw pixels'. The full probe alone cannot
# tell learned from random features either (wide random convolutions reach 97.6%), so the
# margin over a fresh Encoder() is measured where training helps most: with few labels.
PROBE_BAR = 96.0        # linear-probe accuracy (%) on the held-out digits, probe fitted on the whole memory
FEW_LABELS = 10         # labelled digits per class for the few-label probe (the first of each class)
MARGIN = 2.0            # few-label probe points above the same Encoder class freshly initialised
# (the fresh Encoder() is built right after seeding torch with the seed used before training, so
# an encoder that is built first thing in train_encoder and never trained is the identical network)
COLLAPSE_SPREAD = 1e-3  # 1 - |mean unit feature|^2 below this: (almost) every image has the same feature
UNIT_BUDGET_S = 2.0
UNIT_DIGITS = 256
CHUNK = 500


def private_paths(options: dict) -> list:
    """Files and folders the learner's child may not read: labelled digits (labels never reach
    learner code; a submission that read them could return its labels as features)."""
    return mnist.labelled_files(options.get("data_dir"), mnist.package_folders())


def grace_s(budget: float) -> float:
    """train_encoder must return by budget + grace on its clock: 5 s plus 10% of the budget."""
    return 5.0 + 0.1 * budget


# The budget is measured on the child's busy clock (child.py _BusyClock: wall time less the time
# its threads waited for a CPU other programs held), which time.monotonic() reads during the
# call: on a busy machine a submission gets the compute the budget stands for, up to this many
# times the budget in wall time.
BUSY_WALL_FACTOR = 2.0


def wall_limit_s(budget: float) -> float:
    """When the parent stops train_encoder, in wall time."""
    return BUSY_WALL_FACTOR * budget + grace_s(budget)


def _overran(result, budget: float, what: str) -> str | None:
    """Why a train_encoder call that returned took too long on its clock, or None."""
    used = result.budget_seconds if result.budget_seconds is not None else result.child_seconds
    limit = budget + grace_s(budget)
    if used <= limit:
        return None
    return (f"{what} returned after {used:.1f} s on the budget's clock, more than the {budget:g} s budget "
            f"+ {grace_s(budget):.1f} s grace: check the clock inside the training loop (time.monotonic()) "
            "and stop before the budget runs out")


# -- per-grading state ----------------------------------------------------------------
@dataclass
class _State:
    showing: bool = False  # a stage's status line is on the screen
    feature_dim: int | None = None
    losses: list = field(default_factory=list)  # (step, loss) reported by the learner
    steps: int = 0


def _state(context) -> _State:
    return context.store.setdefault("contrastive_mnist", _State())


def _stage(context, name: str, label: str, fn):
    """fn's value, computed once per grading (api.once), with a status line while it runs."""
    def run():
        with _showing(context, _state(context), label):
            return fn()
    return once(context, name, run, label=label)


@contextlib.contextmanager
def _showing(context, state, label: str):
    """A transient status line on a terminal while a stage runs (loading features, fitting the
    probes), except inside another stage's line or during training, which has its own display."""
    console = context.live
    if (console is None or not console.is_terminal or state.showing or label.startswith("training")
            or once_outcome(context, "train") is None):   # a later stage may start the training display
        yield
        return
    state.showing = True
    try:
        with console.status(f"{label} ..."):
            yield
    finally:
        state.showing = False


def _budget(context, device: str) -> float:
    budget = context.options.get("budget")
    return float(budget) if budget else DEFAULT_BUDGET_S.get(device, 60.0)


def _calibration_note(context, device: str) -> str:
    budget = _budget(context, device)
    if CALIBRATED.get(device) == budget:
        return ""
    if device in CALIBRATED:
        return (f" (the bars were calibrated for a {CALIBRATED[device]:g} s budget on the CPU; "
                f"with {budget:g} s a failure here may just mean too little time)")
    return f" (the bars were calibrated on the CPU; on {device} with {budget:g} s they were not measured)"


# -- inputs -----------------------------------------------------------------------------
_DIGITS: list = []


def _digits(n: int) -> torch.Tensor:
    """n real digits from the committed subset (all classes), float32 (n, 1, 28, 28) in [0, 1]."""
    if not _DIGITS:
        images, _ = mnist.load_subset()
        order = torch.arange(5000).view(10, 500).T.reshape(-1)  # 0, 1, ..., 9, 0, 1, ...
        _DIGITS.append(torch.from_numpy(images.copy()).float().div(255).unsqueeze(1)[order])
    return _DIGITS[0][:n].clone()


def _tensor(value, what, device=None) -> torch.Tensor:
    if isinstance(value, Handle):
        raise AssertionError(f"{what}: expected a tensor, got a {value.type} object")
    t = as_tensor(value, what)
    if device is not None:
        where = getattr(value, "device", "cpu")
        if where != torch.device(device).type:
            raise AssertionError(f"{what}: on {where}, expected {device}")
    return t


# -- unit checks (fast, before any training) ---------------------------------------------
def _augment_shape(learner, device):
    for dtype in (torch.float32, torch.float64):
        for b in (1, 16):
            x = _digits(b).to(dtype)
            out = _tensor(learner.call("augment", x, device=device).output, f"augment of a ({b}, 1, 28, 28) "
                          f"{str(dtype).removeprefix('torch.')} batch", device)
            if tuple(out.shape) != tuple(x.shape):
                raise AssertionError(f"augment: a batch of shape {tuple(x.shape)} came back as {tuple(out.shape)}")
            if out.dtype != dtype:
                raise AssertionError(f"augment: a {dtype} batch came back as {out.dtype}")


def _augment_range(learner, device):
    x = torch.cat([_digits(61), torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28),
                   torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1))])
    for attempt in range(3):
        out = _tensor(learner.call("augment", x, device=device).output, "augment output")
        if not torch.isfinite(out).all():
            raise AssertionError("augment returned nan or inf values")
        low, high = out.min().item(), out.max().item()
        if low < 0 or high > 1:
            raise AssertionError(f"augment returned values in [{low:.4g}, {high:.4g}]; the spec asks for [0, 1] "
                                 "(clamp after adding noise or changing contrast)")


def _augment_random(learner, device):
    one = _digits(16)[7:8].repeat(16, 1, 1, 1)  # sixteen copies of one digit
    first = _tensor(learner.call("augment", one, device=device).output, "augment output").double()
    flat = first.flatten(1)
    distinct = len({tuple(row.tolist()) for row in flat})
    if distinct == 1:
        raise AssertionError("augment gave sixteen copies of one digit the same view: "
                             "draw the random parameters per sample, not once per batch")
    if distinct < 8:
        raise AssertionError(f"augment gave sixteen copies of one digit only {distinct} different views; "
                             "draw the random parameters per sample")
    unchanged = (flat == one.double().flatten(1)).all(dim=1).sum().item()
    if unchanged > 8:
        raise AssertionError(f"augment returned {unchanged} of 16 images unchanged")
    second = _tensor(learner.call("augment", one, device=device).output, "augment output").double()
    if torch.equal(first, second):
        raise AssertionError("two calls of augment without a generator gave identical views")


def _augment_generator(learner, device):
    x = _digits(16)
    a = _tensor(learner.call("augment", x, device=device, generator_seed=5).output, "augment output")
    b = _tensor(learner.call("augment", x, device=device, generator_seed=5).output, "augment output")
    if not torch.equal(a, b):
        raise AssertionError("augment with two generators seeded alike gave different views: draw every "
                             "random number from `generator` when one is given")
    c = _tensor(learner.call("augment", x, device=device, generator_seed=6).output, "augment output")
    if torch.equal(a, c):
        raise AssertionError("augment gave identical views for generators with different seeds")


def _augment_inplace(learner, device):
    x = _digits(32)
    result = learner.call("augment", x, device=device, return_inputs=True)
    after = result.inputs_after[0]
    after = getattr(after, "tensor", after)
    if not torch.equal(after.cpu(), x):
        changed = (after.cpu() != x).flatten(1).any(dim=1).sum().item()
        raise AssertionError(f"augment modified its input in place ({changed} of 32 images changed); "
                             "work on a copy (out-of-place ops, or images.clone())")


def _encoder_features(learner, handle, images, what, timeout=None) -> torch.Tensor:
    """Features of images from an encoder living in the child: eval mode, no grad, in chunks."""
    module = learner.call((handle, "eval")).output
    if not isinstance(module, Handle):
        raise AssertionError(f"{what}: .eval() did not return the module (is it an nn.Module?)")
    chunks = [[images[i:i + CHUNK]] for i in range(0, len(images), CHUNK)]
    timeout = timeout or (60.0 + 0.01 * len(images))
    outs = learner.call_many(module, chunks, timeout=timeout)
    parts = []
    for (chunk,), out in zip(chunks, outs):
        parts.append(mnist.validate_features(_tensor(out, what, learner.device), len(chunk), what))
        if parts[0].shape[1] != parts[-1].shape[1]:
            raise AssertionError(f"{what}: the feature size changed between batches")
    return torch.cat(parts)


def _fresh_encoder(learner, device) -> Handle:
    made = learner.call("Encoder").output
    if not isinstance(made, Handle):
        raise AssertionError(f"Encoder() returned plain data ({type(made).__name__}), expected an nn.Module")
    moved = learner.call((made, "to"), device).output
    if not isinstance(moved, Handle):
        raise AssertionError("Encoder().to(device) did not return the module (is Encoder an nn.Module?)")
    return moved


def _encoder_shape(learner, device, context):
    enc = _fresh_encoder(learner, device)
    dims = set()
    for b in (1, 8):
        feats = _encoder_features(learner, enc, _digits(b), f"Encoder()(a batch of {b})")
        dims.add(feats.shape[1])
    if len(dims) != 1:
        raise AssertionError(f"Encoder gave feature sizes {sorted(dims)} for batches of 1 and 8")
    _state(context).feature_dim = dims.pop()
    learner.release(enc)


def _train_small(learner, device, context):
    budget = UNIT_BUDGET_S
    limit = wall_limit_s(budget)
    what = f"train_encoder({UNIT_DIGITS} digits, time_budget_s={budget:g})"
    try:
        result = learner.call("train_encoder", _digits(UNIT_DIGITS), budget, device, device="cpu",
                              timeout=limit, allow_slow=True, busy_clock=True)
    except ChildTimeout:
        raise ChildTimeout(f"{what} did not return within {limit:.1f} s and was stopped: check the clock inside "
                           "the training loop (time.monotonic()) and stop before the budget runs out") from None
    message = _overran(result, budget, what)
    if message is not None:
        raise AssertionError(message)
    out = result.output
    if not isinstance(out, Handle):
        kind = "a tensor" if hasattr(out, "tensor") else type(out).__name__
        raise AssertionError(f"train_encoder returned {kind}; it must return the trained Encoder (an nn.Module)")
    feats = _encoder_features(learner, out, _digits(8), "the encoder train_encoder returned")
    expected = _state(context).feature_dim
    if expected is None:
        fresh = _fresh_encoder(learner, device)
        expected = _encoder_features(learner, fresh, _digits(8), "Encoder()").shape[1]
    if feats.shape[1] != expected:
        raise AssertionError(f"train_encoder returned a module with {feats.shape[1]} features, but Encoder() "
                             f"gives {expected}: return the encoder, not the encoder with its projection head")
    learner.release(out)


# The long training runs only once these passed (the plugin skips the training checks
# otherwise, and runs these first, unreported, when a training check is asked for alone).
UNIT_CHECKS = ("augment_keeps_shape_and_dtype", "encoder_output_shape", "train_encoder_returns_encoder",
               "augment_stays_in_range", "augment_is_random_per_sample", "augment_follows_generator",
               "augment_does_not_modify_input")
CATEGORY_DEPENDS = {"training": UNIT_CHECKS}


@check("interface")
def check_augment_keeps_shape_and_dtype(learner, device, context):
    _augment_shape(learner, device)


@check("interface")
def check_encoder_output_shape(learner, device, context):
    _encoder_shape(learner, device, context)


@check("interface")
def check_train_encoder_returns_encoder(learner, device, context):
    _train_small(learner, device, context)


@check("properties")
def check_augment_stays_in_range(learner, device, context):
    _augment_range(learner, device)


@check("properties")
def check_augment_is_random_per_sample(learner, device, context):
    _augment_random(learner, device)


@check("properties")
def check_augment_follows_generator(learner, device, context):
    _augment_generator(learner, device)


@check("hygiene")
def check_augment_does_not_modify_input(learner, device, context):
    _augment_inplace(learner, device)


# -- training ----------------------------------------------------------------------------
def _finite_number(value) -> bool:
    """A number the submission reported that can be shown (int(inf) and float(10**400) raise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


class _LiveTraining:
    """A one-line progress display (time left, steps, loss) fed by the child's report_progress events."""

    def __init__(self, budget: float, state: _State):
        self.budget, self.state = budget, state
        self.started = time.monotonic()
        self.loss = None

    def on_event(self, event: dict):
        fields = event.get("fields") if isinstance(event, dict) else None
        if not isinstance(fields, dict):
            return
        step, loss = fields.get("step"), fields.get("loss")
        if _finite_number(step):
            self.state.steps = int(step)
        if _finite_number(loss):
            self.loss = float(loss)
            losses = self.state.losses
            losses.append((self.state.steps, self.loss))
            if len(losses) >= 20000:  # keep memory bounded: thin to every other point
                del losses[::2]

    def __rich__(self):
        elapsed = time.monotonic() - self.started
        grid = Table.grid(padding=(0, 1))
        grid.add_row(Text("training", style="bold"),
                     ProgressBar(total=self.budget, completed=min(elapsed, self.budget), width=30),
                     Text(f"{max(self.budget - elapsed, 0):5.1f} s left"),
                     Text(f"step {self.state.steps}"),
                     Text(f"loss {self.loss:.4f}" if self.loss is not None else "no loss reported yet"))
        return grid


def _seed_child(learner, seed):
    """Seed torch in the child, so that a run can be repeated and the fresh Encoder() matches the initial one."""
    learner.seed_torch(int(seed) % (2**31))


def _split(context):
    return _stage(context, "split", "loading MNIST", lambda: mnist.choose_split(context.options.get("data_dir")))


def _train(learner, device, context, seed):
    def run():
        split = _split(context)
        budget = _budget(context, device)
        grace = grace_s(budget)
        state = _state(context)
        display = _LiveTraining(budget, state)
        console = context.live
        _seed_child(learner, seed)
        live = None
        if console is not None and getattr(console, "is_terminal", False):
            live = Live(display, console=console, refresh_per_second=4, transient=True)
            live.start()
        try:
            result = learner.call("train_encoder", split.train_images[_secret_order(len(split.train_images))],
                                  budget, device, device="cpu",
                                  timeout=wall_limit_s(budget), on_event=display.on_event,
                                  event_global="report_progress", allow_slow=True, busy_clock=True)
        except ChildTimeout:
            raise ChildTimeout(f"train_encoder was stopped after {wall_limit_s(budget):.0f} s: the budget was "
                               f"{budget:g} s plus {grace:.0f} s of grace. Check the clock inside the loop "
                               "(time.monotonic()) and stop early enough to return in time.") from None
        finally:
            if live is not None:
                live.stop()
        overran = _overran(result, budget, "train_encoder")
        if overran is not None:
            raise AssertionError(overran)
        if not isinstance(result.output, Handle):
            raise AssertionError("train_encoder must return the trained Encoder (an nn.Module), got "
                                 f"{type(result.output).__name__}")
        clock = result.budget_seconds if result.budget_seconds is not None else result.child_seconds
        return {"handle": result.output, "seconds": clock, "wall_seconds": result.child_seconds,
                "budget": budget, "grace": grace,
                "split": split}

    return _stage(context, "train", "training", run)


class WorkedAfterReturning(AssertionError):
    """Computing the trained features took far longer than a fresh Encoder()'s: training went on."""


def feature_allowance_s(fresh_s: float | None, budget: float) -> float:
    """How long computing the trained encoder's features may take: twice a fresh Encoder()'s
    time for as many images (the same network, measured before training) plus 5 s, and never more than
    10 s + a quarter of the budget (a fresh Encoder() made slow on purpose buys no more)."""
    cap = 10.0 + 0.25 * budget
    return cap if fresh_s is None else min(2.0 * fresh_s + 5.0, cap)


def _timed_features(learner, handle, split, what):
    started = time.perf_counter()
    memory = _features_in_secret_order(learner, handle, split.memory_images, what)
    test = _features_in_secret_order(learner, handle, split.test_images, what)
    return memory, test, time.perf_counter() - started


def _secret_order(n: int) -> torch.Tensor:
    """A permutation the submission cannot predict (not from --seed, which its child knows):
    the split's own order is public (a fixed shuffle of class-sorted files), and the held-out
    digits of the subset are sorted by class, so any position sent as is would tell labels."""
    generator = torch.Generator().manual_seed(secrets.randbits(63))
    return torch.randperm(n, generator=generator)


def _features_in_secret_order(learner, handle, images, what) -> torch.Tensor:
    order = _secret_order(len(images))
    features = _encoder_features(learner, handle, images[order], what)
    restored = torch.empty_like(features)
    restored[order] = features
    return restored


def _trained_features(learner, device, context, seed):
    def run():
        try:   # timed before training, while nothing of the submission's can be running
            fresh_s = _fresh_encoder_seconds(learner, device, context, seed)
        except Exception:
            fresh_s = None
        trained = _train(learner, device, context, seed)
        memory, test, seconds = _timed_features(learner, trained["handle"], trained["split"],
                                                "features of the trained encoder")
        allowed = feature_allowance_s(fresh_s, trained["budget"])
        if seconds > allowed:
            fresh = ("no fresh Encoder() to compare" if fresh_s is None
                     else f"a fresh Encoder()'s took {fresh_s:.1f} s")
            raise WorkedAfterReturning(
                f"computing the trained encoder's features took {seconds:.1f} s ({fresh}; allowed "
                f"{allowed:.1f} s): training must be over when train_encoder returns. Work still "
                "running after it (a thread, a process, training inside forward) is time beyond "
                "the budget.")
        return memory, test

    return _stage(context, "features", "computing the trained encoder's features", run)


def _fresh_encoder_seconds(learner, device, context, seed) -> float:
    """How long a fresh Encoder() takes for as many images as the trained features need,
    measured on the memory digits only (they are training images: the held-out digits must
    not reach the submission before its training)."""
    def run():
        split = _split(context)
        _seed_child(learner, seed)
        fresh = _fresh_encoder(learner, device)
        started = time.perf_counter()
        _features_in_secret_order(learner, fresh, split.memory_images, "features of a fresh Encoder()")
        seconds = time.perf_counter() - started
        learner.release(fresh)
        return seconds * (len(split.memory_images) + len(split.test_images)) / len(split.memory_images)

    return _stage(context, "fresh_timing", "timing a fresh Encoder()", run)


def _untrained_features(learner, device, context, seed):
    def run():
        split = _split(context)
        _seed_child(learner, seed)
        fresh = _fresh_encoder(learner, device)
        memory, test, _ = _timed_features(learner, fresh, split, "features of a fresh Encoder()")
        learner.release(fresh)
        return memory, test

    return _stage(context, "untrained", "computing a fresh Encoder()'s features", run)


def _scores(memory, test, split) -> dict:
    knn = {k: mnist.knn_predict(memory, split.memory_labels, test, k) for k in (5, KNN_K, 20)}
    probe = mnist.linear_probe(memory, split.memory_labels, test)
    few = mnist.first_per_class(split.memory_labels, FEW_LABELS)
    probe_few = mnist.linear_probe(memory[few], split.memory_labels[few], test)
    return {"knn": {k: mnist.accuracy(p, split.test_labels) for k, p in knn.items()},
            "probe_pred": probe, "probe": mnist.accuracy(probe, split.test_labels),
            "probe_few": mnist.accuracy(probe_few, split.test_labels)}


def _metrics(learner, device, context, seed):
    def run():
        memory, test = _trained_features(learner, device, context, seed)
        split = _split(context)
        scores = _scores(memory, test, split)
        _add_extras(context, split, scores)
        return scores

    return _stage(context, "metrics", "evaluating the trained features", run)


def _untrained_metrics(learner, device, context, seed):
    def run():
        memory, test = _untrained_features(learner, device, context, seed)
        return _scores(memory, test, _split(context))

    return _stage(context, "untrained_metrics", "evaluating a fresh Encoder()", run)


# -- what the report shows after the checks -----------------------------------------------
SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values, width: int = 60) -> str:
    values = [float(v) for v in values if math.isfinite(v)]
    if not values:
        return ""
    if not math.isfinite(max(values) - min(values)):   # e.g. -1e308 and 1e308: scale down first
        values = [v / 4 for v in values]
    if len(values) > width:  # average into width bins
        bins = []
        for i in range(width):
            part = values[i * len(values) // width:(i + 1) * len(values) // width]
            bins.append(sum(part) / len(part))
        values = bins
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARK[min(int((v - low) / span * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)] for v in values)


def _add_extras(context, split, scores):
    matrix = mnist.confusion_matrix(scores["probe_pred"], split.test_labels)
    table = Table(title=f"linear probe (the check that decides) on the {len(split.test_labels):,} held-out "
                        "digits: rows are the true digit, columns the prediction", title_justify="left")
    table.add_column("", style="bold")
    for c in range(10):
        table.add_column(str(c), justify="right")
    table.add_column("acc", justify="right")
    for r in range(10):
        cells = []
        for c in range(10):
            n = int(matrix[r, c])
            style = "green" if r == c else ("red" if n else "dim")
            cells.append(Text(str(n) if n or r == c else "·", style=style))
        total = int(matrix[r].sum())
        cells.append(Text(f"{100 * int(matrix[r, r]) / max(total, 1):.0f}%"))
        table.add_row(str(r), *cells)
    losses = [loss for _, loss in _state(context).losses]
    if losses:
        line = Text("loss curve  ")
        line.append(f"{losses[0]:.3f} ", style="dim")
        line.append(sparkline(losses), style="cyan")
        line.append(f" {losses[-1]:.3f}", style="dim")
        line.append(f"   ({len(losses)} reports, last step {_state(context).steps})", style="dim")
    else:
        line = Text("loss curve: train_encoder reported no loss (call report_progress(step=..., loss=...))",
                    style="dim")
    context.extras.append(Group(table, line))


# -- the training checks --------------------------------------------------------------------
@check("training")
def check_trains_within_budget(learner, device, context, seed, record_property):
    trained = _train(learner, device, context, seed)
    with contextlib.suppress(Exception):   # the features' own failures are their checks' business,
        _trained_features(learner, device, context, seed)
    failure = (once_outcome(context, "features") or (None, None))[1]
    if isinstance(failure, WorkedAfterReturning):   # except work left running after training
        raise AssertionError(str(failure))
    state = _state(context)
    split = trained["split"]
    note = (f"trained {trained['seconds']:.1f} s of the {trained['budget']:g} s budget on "
            f"{len(split.train_images):,} unlabelled digits ({split.source})")
    if trained["wall_seconds"] - trained["seconds"] > 1.0:
        note += (f" ({trained['wall_seconds']:.1f} s of wall time: other programs held the CPU for part "
                 "of it, and the budget's clock waited)")
    if state.losses:
        note += f"; {state.steps} step{'' if state.steps == 1 else 's'}, loss {state.losses[0][1]:.3f} -> {state.losses[-1][1]:.3f}"
    for extra in split.notes:
        note += f"; note: {extra}"
    record_property("message", note)


@check("training", depends=("trains_within_budget",))
def check_features_not_collapsed(learner, device, context, seed, record_property):
    memory, test = _trained_features(learner, device, context, seed)
    spread = mnist.collapse_spread(torch.cat([memory, test]))
    if spread < COLLAPSE_SPREAD:
        raise AssertionError(
            f"the trained features have collapsed: every image maps to (almost) the same direction "
            f"(spread 1 - |mean unit feature|^2 = {spread:.2e}, needs >= {COLLAPSE_SPREAD:g}). "
            "A loss without negatives is minimised by a constant encoder; NT-Xent's denominator "
            "pushes different images apart.")
    record_property("message", f"{test.shape[1]} features per image; spread {spread:.3f}")


@check("training", depends=("trains_within_budget",))
def check_linear_probe_accuracy(learner, device, context, seed, record_property):
    scores = _metrics(learner, device, context, seed)
    knn = scores["knn"]
    detail = (f"linear probe on frozen features: {scores['probe']:.1f}% of the held-out digits "
              f"(cosine k-NN, reported only: {knn[KNN_K]:.1f}% with k={KNN_K}, k=5: {knn[5]:.1f}%, "
              f"k=20: {knn[20]:.1f}%)")
    if scores["probe"] < PROBE_BAR:
        raise AssertionError(f"{detail}; the bar is {PROBE_BAR:g}%" + _calibration_note(context, device))
    record_property("message", f"{detail}; bar {PROBE_BAR:g}%")


@check("training", depends=("trains_within_budget",))
def check_beats_untrained_encoder(learner, device, context, seed, record_property):
    scores = _metrics(learner, device, context, seed)
    fresh = _untrained_metrics(learner, device, context, seed)
    gain = scores["probe_few"] - fresh["probe_few"]
    detail = (f"linear probe with {FEW_LABELS} labels per digit: {scores['probe_few']:.1f}% trained vs "
              f"{fresh['probe_few']:.1f}% for a fresh Encoder(), {gain:+.1f} points (all labels: "
              f"{scores['probe']:.1f}% vs {fresh['probe']:.1f}%; k-NN {scores['knn'][KNN_K]:.1f}% vs "
              f"{fresh['knn'][KNN_K]:.1f}%)")
    if gain < MARGIN:
        raise AssertionError(f"{detail}; training must add at least {MARGIN:g} points over the untrained "
                             "encoder. Does train_encoder update the encoder it returns, and does the "
                             "encoder have trainable layers?" + _calibration_note(context, device))
    record_property("message", f"{detail}; needs +{MARGIN:g}")
