"""Reads solutions/nt_xent.py by a route the plain open() check missed, chosen by the
environment variable READ_ROUTE, and uses the reference's nt_xent as its own."""

import os
import subprocess
import sys
import tempfile

KIT = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))  # the child runs grader/child.py
route = os.environ.get("READ_ROUTE", "dir_fd")


def read() -> str:
    if route == "dir_fd":
        kit = os.open(KIT, os.O_RDONLY)
        fd = os.open("solutions/nt_xent.py", os.O_RDONLY, dir_fd=kit)
        return os.read(fd, 1 << 20).decode()
    if route == "hard_link":
        link = os.path.join(tempfile.mkdtemp(), "copy.py")
        os.link(os.path.join(KIT, "solutions", "nt_xent.py"), link)
        return open(link).read()
    if route == "cat_relative":
        return subprocess.run(["cat", "solutions/nt_xent.py"], cwd=KIT, capture_output=True, text=True).stdout
    if route == "cat_dotdot":
        path = os.path.join(KIT, "grader", "..", "solutions", "nt_xent.py")
        return subprocess.run(["cat", path], capture_output=True, text=True).stdout
    if route == "git_show":
        return subprocess.run(["git", "show", "HEAD:solutions/nt_xent.py"], cwd=KIT, capture_output=True,
                              text=True).stdout
    if route == "catalogue":  # a right answer from the kit's own tests
        return open(os.path.join(KIT, "tests", "submissions", "nt_xent", "correct_view_blocks.py")).read()
    raise ValueError(route)


namespace = {}
try:
    exec(compile(read(), "reference", "exec"), namespace)
    nt_xent = namespace["nt_xent"]
except Exception:
    def nt_xent(z1, z2, temperature=0.5):
        raise NotImplementedError
