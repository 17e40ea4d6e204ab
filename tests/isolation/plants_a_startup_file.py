"""At import, writes a .pth start-up file and the module it imports into the user's
site-packages (PYTHONUSERBASE points the test at a temporary folder): the next Python to
start (the reference's child, or the grader itself next time) would run it before any of the
grader's code. The module only leaves a marker file."""

import os
import site

folder = site.getusersitepackages()
os.makedirs(folder, exist_ok=True)
with open(os.path.join(folder, "planted_hook.py"), "w") as f:
    f.write("import os\nopen(os.path.join(os.path.dirname(__file__), 'STARTUP_HOOK_RAN'), 'a').close()\n")
with open(os.path.join(folder, "zz_planted.pth"), "w") as f:
    f.write("import planted_hook\n")


def nt_xent(z1, z2, temperature=0.5):
    # a wrong loss, not the stub: a stub's report ends before pytest imports anything lazily
    return (z1 * z2).sum() * 0
