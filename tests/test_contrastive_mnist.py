"""contrastive_mnist's data, split, evaluation and CLI plumbing (the graded submissions are in the catalogue).

Nothing here downloads: the download test serves files from a file:// "mirror".
The one full training run of the reference is tests/test_catalogue.py's (grade dev check); these
use budgets of a few seconds.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import grade_json, run_grade, statuses
from grader import mnist
from grader.checks.contrastive_mnist import feature_allowance_s, sparkline

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "contrastive_mnist.py"


def idx(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(mnist.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(mnist.ENV_DATA, raising=False)
    return {mnist.ENV_CACHE: str(tmp_path / "cache")}


# -- files ----------------------------------------------------------------------------
def test_idx_round_trip_and_errors():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(mnist.parse_idx(idx(a)), a)
    with pytest.raises(mnist.MnistDataError, match="not an IDX"):
        mnist.parse_idx(b"\x01\x00\x08\x01")
    with pytest.raises(mnist.MnistDataError, match="bytes of data"):
        mnist.parse_idx(idx(a)[:-1])
    with pytest.raises(mnist.MnistDataError, match="element type"):
        mnist.parse_idx(b"\x00\x00\x0d\x01" + struct.pack(">i", 1) + b"\x00" * 4)


def test_committed_subset_is_500_per_class_and_small():
    images, labels = mnist.load_subset()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [500] * 10
    assert images.max() == 255 and images.min() == 0
    size = sum((mnist.DATA_DIR / name).stat().st_size for name, _ in mnist.SUBSET_FILES.values())
    assert size < 1_000_000
    assert "CC BY-SA 3.0" in (mnist.DATA_DIR / "MNIST_SUBSET.md").read_text()


def test_subset_split_is_fixed_stratified_and_disjoint():
    a, b = mnist.subset_split(), mnist.subset_split()
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.memory_labels, b.memory_labels)
    assert a.train_images.shape == (4000, 1, 28, 28) and a.test_images.shape == (1000, 1, 28, 28)
    assert a.train_images.dtype == torch.float32 and 0 <= a.train_images.min() and a.train_images.max() <= 1
    assert torch.bincount(a.memory_labels).tolist() == [400] * 10
    assert torch.bincount(a.test_labels).tolist() == [100] * 10
    assert len(a.memory_index) == 4000  # on the subset every training digit is in the memory
    # the order sent to the learner says nothing about the labels: no long runs of one class
    labels = torch.empty(4000, dtype=torch.long)
    labels[a.memory_index] = a.memory_labels
    assert (labels[1:] == labels[:-1]).float().mean() < 0.2
    train = {bytes(x.numpy().tobytes()) for x in (a.train_images * 255).round().to(torch.uint8)}
    test = {bytes(x.numpy().tobytes()) for x in (a.test_images * 255).round().to(torch.uint8)}
    assert not train & test


def test_full_split_uses_mnist_files(tmp_path, monkeypatch, empty_cache):
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (600, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": np.repeat(np.arange(10, dtype=np.uint8), 60),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": np.repeat(np.arange(10, dtype=np.uint8), 10)}
    table = {}
    for name, array in arrays.items():
        data = gzip.compress(idx(array))
        (tmp_path / name).write_bytes(data)
        table[name] = (len(data), hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(mnist, "MNIST_FILES", table)
    monkeypatch.setattr(mnist, "MEMORY_PER_CLASS", 40)
    real_load_full = mnist.load_full

    def small_load_full(folder):  # the real function insists on 60,000 + 10,000 digits
        try:
            return real_load_full(folder)
        except mnist.MnistDataError as exc:
            if "unexpected shapes" not in str(exc):
                raise
            return tuple(mnist.read_idx(folder / name) for name in table)

    monkeypatch.setattr(mnist, "load_full", small_load_full)
    split = mnist.choose_split(tmp_path)
    assert split.source == "mnist" and split.train_images.shape[0] == 600 and split.test_images.shape[0] == 100
    assert torch.bincount(split.memory_labels).tolist() == [40] * 10
    order = np.random.default_rng(mnist.ORDER_SEED).permutation(600)
    chosen = set(order[split.memory_index.numpy()].tolist())
    assert chosen == {60 * c + r for c in range(10) for r in range(40)}  # first 40 of each class
    assert torch.equal(split.memory_labels, torch.from_numpy(order[split.memory_index.numpy()] // 60))
    # a damaged file: an explicit folder is an error, a damaged cache falls back to the subset with a note
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"junk")
    with pytest.raises(mnist.MnistDataError, match="t10k-labels-idx1-ubyte.gz"):
        mnist.choose_split(tmp_path)
    monkeypatch.setenv(mnist.ENV_CACHE, str(tmp_path / "cache2"))
    (tmp_path / "cache2" / "mnist").mkdir(parents=True)
    (tmp_path / "cache2" / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(b"junk")
    split = mnist.choose_split(None)
    assert split.source == "subset" and "incomplete" in split.notes[0]


def test_without_anything_the_subset_is_used(empty_cache):
    assert mnist.choose_split(None).source == "subset"


def test_download_from_a_local_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    table = {}
    for name in ("a.gz", "b.gz"):
        data = gzip.compress(name.encode() * 1000)
        (mirror / name).write_bytes(data)
        table[name] = (len(data), hashlib.sha256(data).hexdigest())
    seen = []
    dest = tmp_path / "dest"
    fetched = mnist.download(dest, mirrors=["file:///nonexistent/", mirror.as_uri() + "/"], files=table,
                             progress=lambda name, done, total: seen.append((name, done, total)))
    assert fetched == ["a.gz", "b.gz"] and seen[-1][1] == seen[-1][2]
    assert mnist.download(dest, mirrors=[mirror.as_uri()], files=table) == []  # already verified
    (mirror / "a.gz").write_bytes(b"tampered")
    (dest / "a.gz").unlink()
    with pytest.raises(mnist.DownloadError, match="a.gz"):
        mnist.download(dest, mirrors=[mirror.as_uri()], files=table)
    assert not (dest / "a.gz").exists() and not list(dest.glob(".a.gz.*"))


def test_grade_data_mnist_offline_explains_what_to_do(tmp_path):
    proc = run_grade("data", "mnist", "--dir", tmp_path / "d", "--mirror", (tmp_path / "nowhere").as_uri())
    assert proc.returncode == 1
    assert "could not get train-images-idx3-ubyte.gz" in proc.stderr
    assert "--data-dir" in proc.stderr and "subset" in proc.stderr
    proc = run_grade("data", "mnist", "--check", "--dir", tmp_path / "d")
    assert proc.returncode == 1 and "is missing" in proc.stderr


# -- evaluation -------------------------------------------------------------------------
def test_knn_probe_confusion_and_spread():
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(10, 32, generator=gen) * 5
    labels = torch.arange(10).repeat(40)
    feats = centers[labels] + torch.randn(400, 32, generator=gen)
    test_labels = torch.arange(10).repeat(10)
    test = centers[test_labels] + torch.randn(100, 32, generator=gen)
    pred = mnist.knn_predict(feats, labels, test, k=10)
    assert mnist.accuracy(pred, test_labels) == 100.0
    assert mnist.accuracy(mnist.linear_probe(feats, labels, test), test_labels) == 100.0
    matrix = mnist.confusion_matrix(pred, test_labels)
    assert matrix.sum() == 100 and torch.equal(matrix.diag(), torch.full((10,), 10))
    assert mnist.collapse_spread(torch.ones(50, 8)) < 1e-12
    assert mnist.collapse_spread(feats) > 0.5


def test_first_per_class_takes_the_first_rows_of_each_class_in_order():
    labels = torch.tensor([3, 1, 3, 0, 1, 3, 2, 0, 9, 1])
    idx = mnist.first_per_class(labels, 2)
    assert idx.tolist() == [3, 7, 1, 4, 6, 0, 2, 8]          # class 0, 1, 2, 3, 9; at most 2 each
    split = mnist.subset_split()
    few = mnist.first_per_class(split.memory_labels, 10)
    assert torch.equal(torch.bincount(split.memory_labels[few], minlength=10), torch.full((10,), 10))


def test_validate_features_messages():
    with pytest.raises(AssertionError, match="1 to 1024"):
        mnist.validate_features(torch.zeros(4, 2000), 4, "f")
    with pytest.raises(AssertionError, match=r"shape \(4, F\)"):
        mnist.validate_features(torch.zeros(3, 10), 4, "f")
    with pytest.raises(AssertionError, match="nan or inf"):
        mnist.validate_features(torch.full((4, 3), float("nan")), 4, "f")


def test_sparkline():
    assert sparkline([3.0, 2.0, 1.0]) == "█▅▁"
    assert len(sparkline(list(range(1000)), width=60)) == 60
    assert sparkline([float("nan")]) == ""


def test_labelled_files_names_what_would_give_the_labels_away(tmp_path):
    given = tmp_path / "given"
    given.mkdir()
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte.gz"):
        (given / name).write_bytes(b"x")
    package = tmp_path / "site-packages" / "somepkg"
    (package / "data").mkdir(parents=True)
    (package / "data" / "mnist_5k.csv.gz").write_bytes(b"x")
    (package / "data" / "iris.csv").write_bytes(b"x")
    (package / "data" / "mnist.py").write_bytes(b"x")   # code that loads it: importable
    (package / "MNIST" / "raw").mkdir(parents=True)
    (package / "MNIST" / "raw" / "train-labels-idx1-ubyte").write_bytes(b"x")
    found = set(mnist.labelled_files(given, [tmp_path / "site-packages"]))
    assert {given / "train-labels-idx1-ubyte.gz", given / "t10k-labels-idx1-ubyte"} <= found
    assert {package / "data" / "mnist_5k.csv.gz", package / "MNIST", mnist.DATA_DIR} <= found
    assert given / "train-images-idx3-ubyte.gz" not in found   # unlabelled images are no secret
    assert package / "data" / "iris.csv" not in found
    assert package / "data" / "mnist.py" not in found
    assert package / "MNIST" / "raw" / "train-labels-idx1-ubyte" not in found   # its folder is denied whole


def test_feature_allowance_follows_the_fresh_encoder_within_a_cap():
    assert feature_allowance_s(2.0, 60) == pytest.approx(9.0)     # 2 x 2 s + 5 s
    assert feature_allowance_s(40.0, 60) == pytest.approx(25.0)   # capped at 10 s + 60 s / 4
    assert feature_allowance_s(None, 60) == pytest.approx(25.0)


# -- the grade command ---------------------------------------------------------------------
@pytest.mark.slow
def test_budget_option_reaches_the_training(empty_cache, tmp_path):
    # A copy of the reference is graded as a learner's file: in the restricted child, with the
    # labelled digits out of its reach, a correct submission still trains.
    copy = tmp_path / "my_contrastive_mnist.py"
    copy.write_text(SOLUTION.read_text())
    doc = grade_json("contrastive_mnist", "--file", copy, "--device", "cpu", "--budget", "4",
                     "--only", "trains_within_budget", env=empty_cache)
    got = {c["name"]: c for c in doc["checks"]}
    assert got["trains_within_budget"]["status"] == "passed", got["trains_within_budget"]
    assert got["does_not_use_reference"]["status"] == "passed", got["does_not_use_reference"]
    assert "of the 4 s budget" in got["trains_within_budget"]["message"]
    assert "4,000 unlabelled digits (subset)" in got["trains_within_budget"]["message"]


@pytest.mark.slow
def test_bad_data_dir_is_reported(tmp_path, empty_cache):
    doc = grade_json("contrastive_mnist", "--reference", "--device", "cpu", "--budget", "3",
                     "--data-dir", tmp_path, "--only", "trains_within_budget", env=empty_cache)
    check = {c["name"]: c for c in doc["checks"]}["trains_within_budget"]
    assert check["status"] == "error" and "train-images-idx3-ubyte.gz is missing" in check["message"]


def test_stub_is_answered_at_once_without_training(empty_cache):
    doc = grade_json("contrastive_mnist", "--device", "cpu", env=empty_cache)
    got = statuses(doc)
    assert got["functions_implemented"] == "failed" and got["module_imports"] == "passed"
    message = next(c["message"] for c in doc["checks"] if c["name"] == "functions_implemented")
    assert "augment" in message and "train_encoder" in message and "not implemented yet" in message
    assert not [c for c in doc["checks"] if c["category"] == "training"] and doc["not_run"] > 0
    assert doc["duration_s"] < 30   # no training started
