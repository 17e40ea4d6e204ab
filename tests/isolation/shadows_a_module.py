"""At import, writes pdb.py into the grader's working folder (first on its sys.path under
`python -m grader`): pytest imports pdb lazily, in the grader's own process, after this
file has run. The planted module would leave a marker file and could rewrite the report.

The test names the folder in PLANT_DIR: where Landlock is in force the child cannot read
/proc/<grader>/cwd, so a real submission would have to guess it (the shell's folder, say)."""

import os

folder = os.environ["PLANT_DIR"]
with open(os.path.join(folder, "pdb.py"), "w") as f:
    f.write("import os\nopen(os.path.join(os.path.dirname(__file__), 'SHADOW_RAN'), 'w').close()\n"
            "raise ImportError('shadow')\n")


def nt_xent(z1, z2, temperature=0.5):
    # a wrong loss, not the stub: a stub's report ends before pytest imports anything lazily
    return (z1 * z2).sum() * 0
