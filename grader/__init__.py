"""contrastive-kit's grader.

`import grader` stays light (no torch, no IPython): the `grade` command starts from it.
`grade_source` and the notebook extension (`%load_ext grader`) load their modules on first use.
"""

__all__ = ["grade_source", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython):
    """`%load_ext grader`: the %%grade cell magic and the %grade_hint, %grade_progress and
    %grade_quiz line magics (grader/magic.py)."""
    from grader.magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    from grader.magic import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name):
    if name == "grade_source":
        from grader.notebook import grade_source

        return grade_source
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
