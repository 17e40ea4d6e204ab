"""Calibration of contrastive_mnist's pass bar: what raw pixels, untrained encoders, a textbook
SimCLR and the reference reach on the grader's split, with the grader's evaluation.

    python benchmarks/mnist_calibration.py                       # everything, 3 seeds, 60 s budget
    python benchmarks/mnist_calibration.py --only reference --seeds 0 --budget 30

Each training run happens in a fresh subprocess (as in the grader: torch's default
thread count, nothing shared between runs); the evaluation (cosine k-NN with
k = 5, 10, 20, the linear probe, and the probe fitted on 10 labels per digit)
runs here, exactly as grader/checks/contrastive_mnist.py does it. The table goes to stdout; --json FILE also writes the rows.

Configurations:
  pixels            the raw 784 pixels as features (no encoder)
  untrained-ref     the reference Encoder, freshly initialised (seed = init seed)
  untrained-plain   a plain CNN (conv-relu-pool x2, linear 128), freshly initialised
  textbook          textbook SimCLR: random resized crops only, temperature 0.5, Adam 1e-3,
                    batch 256, linear 2-layer head, the plain CNN as encoder
  untrained-pooled  a CNN with wide 5x5 convolutions and an average pool to 4x4 (1,024 features),
                    freshly initialised: random features a linear probe separates well
  textbook-ref      the same recipe with the reference Encoder (batch norm)
  textbook-pooled   the same recipe with the pooled CNN
  reference         solutions/contrastive_mnist.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader import mnist  # noqa: E402
from grader.checks.contrastive_mnist import FEW_LABELS  # noqa: E402

CONFIGS = ["pixels", "untrained-ref", "untrained-plain", "untrained-pooled", "textbook", "textbook-ref",
           "textbook-pooled", "reference"]

# -- the textbook recipe (runs in the worker) -------------------------------------------
TEXTBOOK = r'''
import math, time, torch, torch.nn as nn, torch.nn.functional as F

def crop_augment(images, generator=None):
    """RandomResizedCrop(28, scale=(0.3, 1), ratio=(3/4, 4/3)) with plain torch ops."""
    b, dev = images.shape[0], images.device
    area = torch.rand(b, device=dev) * 0.7 + 0.3
    logr = (torch.rand(b, device=dev) * 2 - 1) * math.log(4 / 3)
    ratio = torch.exp(logr)
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (torch.rand(b, device=dev) * 2 - 1) * (1 - w)
    cy = (torch.rand(b, device=dev) * 2 - 1) * (1 - h)
    zero = torch.zeros(b, device=dev)
    theta = torch.stack([torch.stack([w, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)
    grid = F.affine_grid(theta, (b, 1, 28, 28), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False).clamp(0, 1)

class PlainCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, 128)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))

class PooledCNN(nn.Module):
    """Wide convolutions and an average pool to 4x4: 1,024 features that are strong untrained."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        return F.adaptive_avg_pool2d(F.relu(self.conv2(x)), 4).flatten(1)

def textbook_train(images, budget, make_encoder, nt_xent, report):
    start = time.monotonic()
    enc = make_encoder()
    dim = enc(images[:2]).shape[1]
    head = nn.Sequential(nn.Linear(dim, 128), nn.ReLU(), nn.Linear(128, 64))
    opt = torch.optim.Adam(list(enc.parameters()) + list(head.parameters()), lr=1e-3)
    step = 0
    while time.monotonic() - start < budget - 2:
        x = images[torch.randint(len(images), (256,))]
        loss = nt_xent(head(enc(crop_augment(x))), head(enc(crop_augment(x))), 0.5)
        opt.zero_grad(); loss.backward(); opt.step(); step += 1
        report(step=step, loss=loss.item())
    return enc.eval()
'''

WORKER = r'''
import importlib.util, sys, time, torch
sys.path.insert(0, sys.argv[1])
config, seed, budget, inp, out = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
spec = importlib.util.spec_from_file_location("reference", sys.argv[1] + "/solutions/contrastive_mnist.py")
ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
exec(compile(TEXTBOOK_SRC, "textbook", "exec"))
data = torch.load(inp)
torch.manual_seed(seed)
steps, losses = [0], []
def report(**f):
    steps[0] = f.get("step", steps[0]); losses.append(f.get("loss"))
ref.report_progress = report
started = time.monotonic()
if config == "reference":
    enc = ref.train_encoder(data["train"], budget)
elif config == "textbook":
    enc = textbook_train(data["train"], budget, PlainCNN, ref.nt_xent, report)
elif config == "textbook-ref":
    enc = textbook_train(data["train"], budget, ref.Encoder, ref.nt_xent, report)
elif config == "textbook-pooled":
    enc = textbook_train(data["train"], budget, PooledCNN, ref.nt_xent, report)
elif config == "untrained-pooled":
    enc = PooledCNN()
elif config == "untrained-ref":
    enc = ref.Encoder()
elif config == "untrained-plain":
    enc = PlainCNN()
seconds = time.monotonic() - started
enc.eval()
with torch.no_grad():
    feats = {k: torch.cat([enc(x) for x in data[k].split(500)]) for k in ("memory", "test")}
torch.save({"feats": feats, "steps": steps[0], "seconds": seconds,
            "last_loss": losses[-1] if losses else None}, out)
'''


def run_worker(config, seed, budget, split, tmp: Path):
    inp, out = tmp / "data.pt", tmp / f"{config}-{seed}.pt"
    if not inp.exists():
        torch.save({"train": split.train_images, "memory": split.memory_images, "test": split.test_images}, inp)
    code = WORKER.replace("TEXTBOOK_SRC", repr(TEXTBOOK))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", code, str(ROOT), config, str(seed), str(budget), str(inp), str(out)],
                   check=True, env=env)
    return torch.load(out)


def evaluate(memory, test, split):
    row = {}
    for k in (5, 10, 20):
        row[f"knn{k}"] = mnist.accuracy(mnist.knn_predict(memory, split.memory_labels, test, k), split.test_labels)
    row["probe"] = mnist.accuracy(mnist.linear_probe(memory, split.memory_labels, test), split.test_labels)
    few = mnist.first_per_class(split.memory_labels, FEW_LABELS)
    row["probe10"] = mnist.accuracy(mnist.linear_probe(memory[few], split.memory_labels[few], test),
                                    split.test_labels)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", help="comma-separated configurations (default: all)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    configs = args.only.split(",") if args.only else CONFIGS
    seeds = [int(s) for s in args.seeds.split(",")]
    split = mnist.subset_split()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"mnist-calibration-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"# {split.description}; budget {args.budget:g} s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} cpus; load average at start {load:.2f}",
          flush=True)
    rows = []
    header = f"{'config':<16} {'seed':>4} {'steps':>6} {'train s':>7} {'knn5':>6} {'knn10':>6} {'knn20':>6} {'probe':>6} {'probe10':>7}"
    print(header, flush=True)
    for config in configs:
        for seed in (seeds if config != "pixels" else seeds[:1]):
            t0 = time.monotonic()
            if config == "pixels":
                memory, test = split.memory_images.flatten(1), split.test_images.flatten(1)
                info = {"steps": 0, "seconds": 0.0}
            else:
                info = run_worker(config, seed, args.budget, split, tmp)
                memory, test = info["feats"]["memory"], info["feats"]["test"]
            row = {"config": config, "seed": seed, "steps": info["steps"], "train_s": round(info["seconds"], 1),
                   **evaluate(memory, test, split), "load": round(os.getloadavg()[0], 2),
                   "wall_s": round(time.monotonic() - t0, 1)}
            rows.append(row)
            print(f"{config:<16} {seed:>4} {row['steps']:>6} {row['train_s']:>7} {row['knn5']:>6.1f} "
                  f"{row['knn10']:>6.1f} {row['knn20']:>6.1f} {row['probe']:>6.1f} {row['probe10']:>7.1f}   (load {row['load']})",
                  flush=True)
    print("\n# summary: mean (min-max) over seeds")
    for config in configs:
        mine = [r for r in rows if r["config"] == config]
        parts = []
        for key in ("knn10", "probe", "probe10"):
            vals = [r[key] for r in mine]
            parts.append(f"{key} {statistics.mean(vals):.1f} ({min(vals):.1f}-{max(vals):.1f})")
        print(f"{config:<16} " + ", ".join(parts))
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
