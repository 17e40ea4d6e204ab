"""`grade notebook NAME`: write NAME.ipynb, the exercise as a Jupyter notebook.

The spec in markdown cells, a cell that loads the grader's extension, and the stub in a
`%%grade NAME` cell that grades itself when run (grader/magic.py).
"""

from __future__ import annotations

from pathlib import Path

from grader.catalog import load_exercise

NAME = "notebook"
HELP = "write NAME.ipynb: the spec, and the stub in a %%grade cell that grades itself"


def add_arguments(parser) -> None:
    parser.add_argument("exercise", help="exercise name (see `grade list`)")
    parser.add_argument("-o", "--output", type=Path, metavar="PATH",
                        help="where to write the notebook (default: NAME.ipynb in this folder)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing notebook")


def run(args) -> int:
    from grader.notebook import write_notebook

    exercise = load_exercise(args.exercise)
    path = args.output if args.output is not None else Path(f"{exercise.name}.ipynb")
    write_notebook(exercise.name, path, force=args.force)
    print(f"wrote {path}: open it in Jupyter (jupyter lab {path}) and run its cells")
    return 0
