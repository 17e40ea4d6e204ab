from solutions.nt_xent import nt_xent  # noqa: F401
