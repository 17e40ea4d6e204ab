"""Every number of every worked example in exercises/*/spec.md, recomputed from the spec's own inputs.

The inputs are read out of the spec text (not copied here), the results come from the reference
solutions, and every printed number must be the true value correctly rounded to the digits printed
(an integer must be exact). Each "worked example" section is also swept for decimal numbers that no
check below read: a number added to an example without a check fails the test.
"""

from __future__ import annotations

import ast
import itertools
import math
import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from solutions.info_nce import info_nce
from solutions.nce_loss import nce_loss
from solutions.negative_sampler import hard_negatives, sample_negatives, sample_unigram
from solutions.nt_xent import nt_xent

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
NUMBER = r"-?\d+(?:\.\d+)?"
LIST1 = r"(\[[^\[\]`]*\])"
LIST2 = r"(\[\[[^`]*?\]\])"
DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+")


def spec(name: str) -> str:
    return (EXERCISES / name / "spec.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The body of the '## ...' section whose title contains `heading`, up to the next '## '."""
    match = re.search(rf"^## [^\n]*{re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section titled like {heading!r}"
    return match.group(1)


def agrees(printed: str, value: float) -> bool:
    """`printed` is `value` rounded to the digits shown; an integer must be exact."""
    decimals = len(printed.split(".")[1]) if "." in printed else None
    if decimals is None:
        return abs(value - int(printed)) <= 1e-9
    return abs(value - float(printed)) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9) + 1e-12


class Example:
    """One worked-example text: finds its inputs and numbers and remembers which it checked."""

    def __init__(self, text: str):
        self.text = text
        self.read: list[tuple[int, int]] = []

    def find(self, pattern: str, start: int = 0) -> re.Match:
        """The first match at or after `start`; a space in the pattern matches any line break too."""
        match = re.compile(pattern.replace(" ", r"\s+"), re.S | re.M).search(self.text, start)
        assert match, f"pattern not found in the worked example: {pattern!r}"
        return match

    def literal(self, pattern: str, start: int = 0):
        """Group 1 of the pattern, a Python literal (the spec's input); its numbers count as read."""
        match = self.find(pattern, start)
        self.read.append(match.span(1))
        return ast.literal_eval(match.group(1))

    def number(self, match: re.Match, group, value: float, what: str) -> None:
        printed = match.group(group)
        assert agrees(printed, float(value)), f"{what}: the spec prints {printed}, the value is {float(value):.6f}"
        self.read.append(match.span(group))

    def numbers(self, match: re.Match, group, values, what: str) -> None:
        """A bracketed list or tuple of printed numbers against the values, flattened."""
        start = match.start(group)
        printed = list(re.finditer(NUMBER, match.group(group)))
        flat = torch.as_tensor(values, dtype=torch.float64).flatten().tolist()
        assert len(printed) == len(flat), f"{what}: the spec prints {match.group(group)}, expected {flat}"
        for token, value in zip(printed, flat):
            assert agrees(token.group(), value), f"{what}: the spec prints {token.group()}, the value is {value:.6f}"
            self.read.append((start + token.start(), start + token.end()))

    def assert_every_decimal_was_read(self) -> None:
        for token in DECIMAL.finditer(self.text):
            assert any(a <= token.start() and token.end() <= b for a, b in self.read), (
                f"the worked example prints {token.group()} (...{self.text[max(0, token.start() - 60):token.end()]}) "
                "and no check reads it: add it to tests/test_spec_examples.py")


def check_log_sum_exp_line(ex: Example, match: re.Match, group: int, logits, target: float, loss: float, what: str):
    """`log(e^a + e^b + ...) - c = v`: the a, b, ... are the row's logits in order, c the target's, v the loss."""
    inner = re.fullmatch(rf"log\(((?:e\^{NUMBER}(?: \+ )?)+)\) - ({NUMBER}) = ({NUMBER})", match.group(group))
    assert inner, f"{what}: cannot read {match.group(group)!r}"
    offset = match.start(group)
    exps = list(re.finditer(rf"e\^({NUMBER})", inner.group(1)))
    assert len(exps) == len(logits), f"{what}: {len(exps)} terms, the row has {len(logits)} logits"
    for term, value in zip(exps, logits):
        assert agrees(term.group(1), value), f"{what}: e^{term.group(1)}, the logit is {value:.6f}"
        ex.read.append((offset + inner.start(1) + term.start(1), offset + inner.start(1) + term.end(1)))
    for g, value in ((2, target), (3, loss)):
        assert agrees(inner.group(g), value), f"{what}: the spec prints {inner.group(g)}, the value is {value:.6f}"
        ex.read.append((offset + inner.start(g), offset + inner.end(g)))


# ----------------------------------------------------------------------------------- nt_xent
def test_nt_xent_worked_example():
    ex = Example(section(spec("nt_xent"), "worked example"))
    z1 = torch.tensor(ex.literal(r"`z1 = (\[.*?\]\])`"), dtype=torch.float64)
    z2 = torch.tensor(ex.literal(r"`z2 = (\[.*?\]\])`"), dtype=torch.float64)
    t = ex.literal(r"`temperature = (" + NUMBER + ")`")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)                      # (2N, D)
    cos = z @ z.T                                                    # (2N, 2N)
    logits = cos / t

    rows = ex.find(r"rows of `z` are (.*?), so")
    vectors = list(re.compile(r"`\(([^)]*)\)`").finditer(ex.text, rows.start(1), rows.end(1)))
    assert len(vectors) == 2 * n, "every row of z is shown"
    for i, m in enumerate(vectors):
        ex.numbers(m, 1, z[i], f"row {i} of z")
    for m in re.finditer(rf"`cos\((\d),(\d)\) = ({NUMBER})`", ex.text):
        ex.number(m, 3, cos[int(m.group(1)), int(m.group(2))], f"cos({m.group(1)},{m.group(2)})")
    ex.number(ex.find(rf"divided by ({NUMBER}) they"), 1, t, "the temperature")

    per_anchor = torch.logsumexp(logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), -math.inf), 1) \
        - logits[torch.arange(2 * n), (torch.arange(2 * n) + n) % (2 * n)]                       # (2N,)
    seen = set()
    for m in re.finditer(r"^- anchor (\d) \(partner (\d)\): (.*)$", ex.text, re.M):
        i, partner = int(m.group(1)), int(m.group(2))
        seen.add(i)
        assert partner == (i + n) % (2 * n), f"anchor {i}'s partner is {(i + n) % (2 * n)}"
        others = [logits[i, k].item() for k in range(2 * n) if k != i]
        body = re.compile(r"`(log\(.*?\) - .*? = .*?)`").search(ex.text, m.start(3), m.end())
        if body:
            check_log_sum_exp_line(ex, body, 1, others, logits[i, partner].item(), per_anchor[i].item(),
                                   f"anchor {i}")
        else:  # prose: every number is one of the row's logits, the last one the loss
            found = list(re.compile(NUMBER).finditer(ex.text, m.start(3), m.end()))
            *middle, last = [f for f in found if "." in f.group()]
            for f in middle:
                assert any(agrees(f.group(), v) for v in others), f"anchor {i}: {f.group()} is not a logit of its row"
                ex.read.append(f.span())
            assert agrees(last.group(), per_anchor[i].item()), f"anchor {i}: {last.group()} vs {per_anchor[i]:.6f}"
            ex.read.append(last.span())
    assert seen == set(range(2 * n)), "every anchor's loss is shown"

    total = ex.find(r"`L = \(([^)]*)\) / (\d+) = (" + NUMBER + ")`")
    ex.numbers(total, 1, per_anchor, "the per-anchor losses in the mean")
    assert int(total.group(2)) == 2 * n
    ex.number(total, 3, nt_xent(z1, z2, t), "L from the reference")
    ex.assert_every_decimal_was_read()


# ----------------------------------------------------------------------------------- nce_loss
def test_nce_loss_worked_example():
    ex = Example(section(spec("nce_loss"), "worked example"))
    b = ex.literal(rf"`B = ({NUMBER})`")
    k = ex.literal(rf"`K = ({NUMBER})`")
    t = ex.literal(rf"`t = ({NUMBER})`")
    pos = torch.tensor(ex.literal(r"pos_scores = " + LIST1), dtype=torch.float64)
    neg = torch.tensor(ex.literal(r"neg_scores = " + LIST2), dtype=torch.float64)
    q_pos = torch.tensor(ex.literal(r"q\(pos\)\s+= " + LIST1), dtype=torch.float64)
    q_neg = torch.tensor(ex.literal(r"q\(neg\)\s+= " + LIST2), dtype=torch.float64)
    assert pos.shape == (b,) and neg.shape == (b, k) and q_pos.shape == (b,) and q_neg.shape == (b, k)

    scaled = ex.find(r"scores over `t` are `" + LIST1 + "` and `" + LIST2 + "`")
    ex.numbers(scaled, 1, pos / t, "pos_scores / t")
    ex.numbers(scaled, 2, neg / t, "neg_scores / t")
    corr = ex.find(r"`log\(K q\)` is `" + LIST1 + "` and `" + LIST2 + "`")
    ex.numbers(corr, 1, torch.log(k * q_pos), "log(K q(pos))")
    ex.numbers(corr, 2, torch.log(k * q_neg), "log(K q(neg))")
    pos_logit, neg_logit = pos / t - torch.log(k * q_pos), neg / t - torch.log(k * q_neg)
    lg = ex.find(r"the logits are `" + LIST1 + "` and `" + LIST2 + "`")
    ex.numbers(lg, 1, pos_logit, "observed logits")
    ex.numbers(lg, 2, neg_logit, "noise logits")

    def rows_of(pl, nl):
        terms = torch.cat([F.softplus(-pl)[:, None], F.softplus(nl)], 1)      # (B, 1 + K)
        args = torch.cat([-pl[:, None], nl], 1)
        return args, terms, terms.sum(1)

    args, terms, row_loss = rows_of(pos_logit, neg_logit)
    for m in re.finditer(r"^- row (\d): `((?:softplus\(" + NUMBER + r"\)(?: \+ )?)+) = ([^`]*) = (" + NUMBER + ")`",
                         ex.text, re.M):
        r = int(m.group(1))
        ex.numbers(m, 2, args[r], f"row {r}: the softplus arguments")
        ex.numbers(m, 3, terms[r], f"row {r}: the terms")
        ex.number(m, 4, row_loss[r], f"row {r}: the loss")
    mean = ex.find(r"`L = \(([^)]*)\) / (\d+) = (" + NUMBER + ")`")
    ex.numbers(mean, 1, row_loss, "the row losses in the mean")
    ex.number(mean, 3, nce_loss(pos, neg, q_pos.log(), q_neg.log(), temperature=t), "L (NCE) from the reference")

    args, terms, row_loss = rows_of(pos / t, neg / t)
    plain = ex.find(r"rows `([^`]*) = (" + NUMBER + r")` and `([^`]*) = (" + NUMBER + r")`, so\s+`L = (" + NUMBER + ")`")
    for r, (g_terms, g_row) in enumerate(((1, 2), (3, 4))):
        ex.numbers(plain, g_terms, terms[r], f"negative sampling, row {r}: the terms")
        ex.number(plain, g_row, row_loss[r], f"negative sampling, row {r}: the loss")
    ex.number(plain, 5, nce_loss(pos, neg, temperature=t), "L (negative sampling) from the reference")

    ex.find(r"every logit is 0, each of the `1 \+ K` terms\s+is `log 2`, so `L = \(1 \+ K\) log 2`")
    for kk in (1, 3, 7):
        zeros = nce_loss(torch.zeros(4, dtype=torch.float64), torch.zeros(4, kk, dtype=torch.float64))
        assert math.isclose(zeros.item(), (1 + kk) * math.log(2), rel_tol=1e-12)
    ex.assert_every_decimal_was_read()


# ----------------------------------------------------------------------------------- info_nce
def test_info_nce_worked_example():
    ex = Example(section(spec("info_nce"), "worked example"))
    query = torch.tensor(ex.literal(r"`query = (\[\[.*?\]\])`"), dtype=torch.float64)
    keys = torch.tensor(ex.literal(r"`positive_key = (\[\[.*?\]\])`"), dtype=torch.float64)
    t = ex.literal(rf"`temperature = ({NUMBER})`")
    q, k = F.normalize(query, dim=-1), F.normalize(keys, dim=-1)
    norm = ex.find(r"the queries are `(\(.*?\))`, `(\(.*?\))` and the keys `(\(.*?\))`, `(\(.*?\))`")
    for g, vec, what in ((1, q[0], "query 0"), (2, q[1], "query 1"), (3, k[0], "key 0"), (4, k[1], "key 1")):
        ex.numbers(norm, g, vec, what)

    def bullet(title: str) -> tuple[int, int]:
        m = ex.find(rf"^- \*\*{title}\*\*(.*?)(?=^- \*\*|^A closed form|\Z)")
        return m.start(1), m.end(1)

    def rows_and_mean(start, end, logits, targets, reference, mode):
        loss = torch.logsumexp(logits, 1) - logits[torch.arange(len(targets)), targets]      # (N,)
        for m in re.compile(r"[Rr]ow (\d): `(log\([^`]*)`").finditer(ex.text, start, end):
            r = int(m.group(1))
            check_log_sum_exp_line(ex, m, 2, logits[r].tolist(), logits[r, targets[r]].item(), loss[r].item(),
                                   f"{mode}: row {r}")
        for m in re.compile(r"[Rr]ow (\d) has logits `(\[[^`]*\])`, `(log\([^`]*)`").finditer(ex.text, start, end):
            r = int(m.group(1))
            ex.numbers(m, 2, logits[r], f"{mode}: row {r}'s logits")
            check_log_sum_exp_line(ex, m, 3, logits[r].tolist(), logits[r, targets[r]].item(), loss[r].item(),
                                   f"{mode}: row {r}")
        for m in re.compile(rf"row (\d) as in the unpaired\s+case, `({NUMBER})`").finditer(ex.text, start, end):
            ex.number(m, 2, loss[int(m.group(1))], f"{mode}: row {m.group(1)}")
        mean = re.compile(rf"`L = ({NUMBER})`").search(ex.text, start, end)
        assert mean, f"{mode}: no `L = ...`"
        ex.number(mean, 1, reference, f"{mode}: L from the reference")
        assert math.isclose(loss.mean().item(), float(reference), rel_tol=1e-12)

    start, end = bullet("In-batch")
    logits = q @ k.T / t                                                                      # (N, N)
    m = re.compile(r"`logits = (\[\[.*?\]\])`, targets `(\[.*?\])`").search(ex.text, start, end)
    ex.numbers(m, 1, logits, "in-batch logits")
    ex.numbers(m, 2, torch.arange(len(q)), "in-batch targets")
    rows_and_mean(start, end, logits, torch.arange(len(q)), info_nce(query, keys, temperature=t), "in-batch")

    start, end = bullet("Unpaired")
    negatives = torch.tensor(ex.literal(r"`negative_keys = (\[\[.*?\]\])`", start), dtype=torch.float64)
    n_unit = F.normalize(negatives, dim=-1)
    m = re.compile(r"\(normalized `(\(.*?\))`, `(\(.*?\))`\)").search(ex.text, start, end)
    ex.numbers(m, 1, n_unit[0], "negative 0")
    ex.numbers(m, 2, n_unit[1], "negative 1")
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ n_unit.T], 1) / t                  # (N, 1 + M)
    m = re.compile(r"`logits = (\[\[.*?\]\])`, targets `(\[.*?\])`").search(ex.text, start, end)
    ex.numbers(m, 1, logits, "unpaired logits")
    ex.numbers(m, 2, torch.zeros(len(q)), "unpaired targets")
    zeros = torch.zeros(len(q), dtype=torch.long)
    rows_and_mean(start, end, logits, zeros, info_nce(query, keys, negatives, temperature=t), "unpaired")

    start, end = bullet("Paired")
    negatives = torch.tensor(ex.literal(r"`negative_keys = (\[\[\[.*?\]\]\])`", start), dtype=torch.float64)
    n_unit = F.normalize(negatives, dim=-1)
    logits = torch.cat([(q * k).sum(1, keepdim=True), torch.einsum("nd,nmd->nm", q, n_unit)], 1) / t
    rows_and_mean(start, end, logits, zeros,
                  info_nce(query, keys, negatives, temperature=t, negative_mode="paired"), "paired")

    # the closed form on orthonormal features, L = log(1 + R exp(-c / t))
    ex.find(r"`L = log\(1 \+ R exp\(-c / t\)\)`")
    eye = torch.eye(8, dtype=torch.float64)
    for c, temp in ((1.0, 0.5), (0.0, 0.3), (0.6, 2.0)):
        qs, negs = eye[:2], eye[4:7]                                 # R = M = 3 orthonormal negatives
        ks = c * qs + math.sqrt(1 - c * c) * eye[2:4]                # q_i . k_i = c, k_i orthogonal to the rest
        got = info_nce(qs, ks, negs, temperature=temp).item()
        assert math.isclose(got, math.log(1 + 3 * math.exp(-c / temp)), rel_tol=1e-12)
    ex.assert_every_decimal_was_read()


# ----------------------------------------------------------------------------------- negative_sampler
def _sets(text: str) -> list[set[int]]:
    return [set(ast.literal_eval("[" + s + "]")) for s in re.findall(r"\{([\d, ]*)\}", text)]


def test_negative_sampler_sample_negatives_example():
    body = section(spec("negative_sampler"), "sample_negatives")
    labels = torch.tensor(ast.literal_eval(re.search(r"`labels = (\[.*?\])`", body).group(1)))
    k = int(re.search(r"`labels = .*?`, `K = (\d+)`", body).group(1))
    table = [line for line in body.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(table) == len(labels)
    draws = [set(row.tolist()) for seed in range(400)
             for row in sample_negatives(labels, k, generator=torch.Generator().manual_seed(seed))]
    for i, line in enumerate(table):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert int(cells[0]) == i and int(cells[1]) == labels[i].item()
        valid = {j for j in range(len(labels)) if labels[j] != labels[i]}
        assert _sets(cells[2]) == [valid], f"anchor {i}: valid candidates"
        listed = _sets(cells[3])
        expected = [set(c) for c in itertools.combinations(sorted(valid), k)]
        assert sorted(map(sorted, listed)) == sorted(map(sorted, expected)), f"anchor {i}: the possible rows"
        share = 1 / math.comb(len(valid), k)
        printed = re.search(r"\((\d+)(?:/(\d+))?(?: each)?\)", cells[3])
        assert math.isclose(int(printed.group(1)) / int(printed.group(2) or 1), share), f"anchor {i}: probability"
        seen = Counter(frozenset(d) for d in draws[i::len(labels)])
        assert set(seen) == {frozenset(s) for s in expected}, f"anchor {i}: the reference draws other rows"
        for s in expected:  # 400 draws: each subset within 5 binomial standard deviations of its share
            assert abs(seen[frozenset(s)] - 400 * share) <= 5 * math.sqrt(400 * share * (1 - share)) + 1e-9

    raise_k, anchor, count = map(int, re.search(
        r"With `K = (\d+)` the call raises, because anchor (\d+) has only (\d+) valid", body).groups())
    with pytest.raises(ValueError, match=rf"anchor {anchor} has only {count} valid"):
        sample_negatives(labels, raise_k)


def test_negative_sampler_hard_negatives_example():
    body = section(spec("negative_sampler"), "hard_negatives")
    block = re.search(r"similarity\s+= (\[\[.*?\]\])\s+anchor_labels\s+= (\[.*?\])\s+candidate_labels = (\[.*?\])"
                      r"\s+result\s+= (.*?)\n\n", body, re.S)
    similarity = torch.tensor(ast.literal_eval(block.group(1)))
    anchors, candidates = torch.tensor(ast.literal_eval(block.group(2))), torch.tensor(ast.literal_eval(block.group(3)))
    k = int(re.search(r"Example, with K = (\d+)", body).group(1))
    rows = re.findall(r"\[([\d, ]+)\][,\]]*\s+# valid ([\d, ]+) -> (.*)$", block.group(4), re.M)
    result = hard_negatives(similarity, anchors, candidates, k)
    assert [ast.literal_eval("[" + r + "]") for r, _, _ in rows] == result.tolist()
    for i, (_, valid, comment) in enumerate(rows):
        assert set(ast.literal_eval("[" + valid + "]")) == {j for j in range(len(candidates))
                                                           if candidates[j] != anchors[i]}
        facts = 0
        for value, index in re.findall(r"(\d\.\d+) \((\d+)\)", comment):       # "0.8 (3)": similarity of 3
            assert agrees(value, similarity[i, int(index)].item())
            facts += 1
        for value, a, b, taken in re.findall(r"(\d\.\d+) at (\d+) and (\d+): take (\d+)", comment):
            assert agrees(value, similarity[i, int(a)].item()) and agrees(value, similarity[i, int(b)].item())
            assert int(taken) == min(int(a), int(b)) and int(taken) in result[i].tolist()
            assert max(int(a), int(b)) not in result[i].tolist()
            facts += 1
        assert facts == len(re.findall(r"\d\.\d+", comment)), f"row {i}: a number in the comment is not checked"


def test_negative_sampler_unigram_example():
    body = section(spec("negative_sampler"), "sample_unigram")
    m = re.search(r"`counts = (\[.*?\])` with the default power gives weights\s+`([^`]*)`, so `P = ([^`]*)`", body)
    counts = torch.tensor(ast.literal_eval(m.group(1)), dtype=torch.float64)
    weights = torch.where(counts > 0, counts ** 0.75, torch.zeros(()))
    assert torch.allclose(torch.tensor(ast.literal_eval("[" + m.group(2) + "]"), dtype=torch.float64), weights)
    shares = [float(Fraction(p.strip())) for p in m.group(3).split(",")]
    assert torch.allclose(torch.tensor(shares, dtype=torch.float64), weights / weights.sum())
    n = 200_000
    drawn = torch.bincount(sample_unigram(counts, n, generator=torch.Generator().manual_seed(0)),
                           minlength=len(counts)).double()
    for i, p in enumerate(shares):
        assert abs(drawn[i].item() - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 1e-9, f"item {i}"


# ----------------------------------------------------------------------------------- every spec
CHECKED = {"nt_xent", "nce_loss", "info_nce", "negative_sampler"}


def _checked_elsewhere(name: str) -> bool:
    """Another test module that reads this exercise's spec and recomputes its worked example."""
    for path in Path(__file__).resolve().parent.glob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        text = path.read_text(encoding="utf-8")
        if "worked example" in text.lower() and re.search(rf"""(exercises/{name}\b|["']{name}["'])""", text):
            return True
    return False


@pytest.mark.parametrize("name", sorted(p.name for p in EXERCISES.iterdir() if (p / "spec.md").is_file()))
def test_every_worked_example_has_a_check(name):
    """A spec that gains a worked example must gain a check, here or in its own test module."""
    has_example = re.search(r"^#+ [^\n]*worked example", spec(name), re.I | re.M) is not None
    assert not has_example or name in CHECKED or _checked_elsewhere(name), (
        f"{name}'s spec has a worked example that no test recomputes (add one here, or in a test module "
        "that names the exercise and says 'worked example')")
