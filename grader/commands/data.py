"""`grade data mnist`: download the four MNIST IDX files into the kit's cache and verify them."""

from __future__ import annotations

import sys
from pathlib import Path

NAME = "data"
HELP = ("Download a data set into the kit's cache: `grade data mnist` fetches the four MNIST IDX files "
        "(about 11 MB) and checks their SHA-256; `--check` only verifies what is there.")


def add_arguments(parser) -> None:
    parser.add_argument("dataset", choices=["mnist"], help="the data set (only mnist for now)")
    parser.add_argument("--dir", type=Path, help="where to put the files (default: the kit's cache folder)")
    parser.add_argument("--mirror", action="append", metavar="URL",
                        help="base URL to download from (repeatable; default: the built-in mirrors)")
    parser.add_argument("--check", action="store_true", help="verify the files already there; download nothing")


def run(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from grader import mnist

    console = Console(stderr=True, highlight=False, soft_wrap=True)  # a message stays one line
    dest = (args.dir or mnist.mnist_cache_dir()).expanduser()
    if args.check:
        problems = mnist.check_folder(dest)
        if problems:
            console.print(f"MNIST in {dest}: " + "; ".join(problems))
            console.print("run `grade data mnist` to download what is missing")
            return 1
        console.print(f"MNIST in {dest}: all four files present and verified")
        return 0

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=console, transient=True) as progress:
        tasks = {}

        def report(name, done, total):
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done)

        try:
            fetched = mnist.download(dest, mirrors=args.mirror, progress=report)
        except mnist.DownloadError as exc:
            progress.stop()
            console.print(f"grade data: {exc}")
            console.print(
                "No network, or the mirrors are blocked? Download these four files on a machine that has "
                f"network ({', '.join(mnist.MNIST_FILES)}), from {mnist.MIRRORS[0]} or any MNIST mirror, "
                f"and copy them into {dest} (or any folder, then pass `--data-dir FOLDER` to grade, or set "
                f"{mnist.ENV_DATA}=FOLDER). Check them with `grade data mnist --check --dir FOLDER`. "
                "Without them, contrastive_mnist grades on the kit's built-in 5,000-digit subset.")
            return 1
        except OSError as exc:
            progress.stop()
            sys.stderr.write(f"grade data: error: cannot write to {dest}: "
                             f"{getattr(exc, 'strerror', None) or exc}\n")
            return 2
    if fetched:
        console.print(f"downloaded {', '.join(fetched)} into {dest}; all four files verified")
    else:
        console.print(f"MNIST already in {dest}; all four files verified")
    console.print("contrastive_mnist now trains on the full 60,000 training digits "
                  "and evaluates on the 10,000 test digits")
    return 0
