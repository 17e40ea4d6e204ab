"""Reference solutions: one module per exercise, readable and fast."""
