"""Benchmarks of the kit's loss references against the implementations people use.

Entry points: `python -m benchmarks.losses` (speed and memory) and
`python -m benchmarks.grade_timing` (wall time of `grade <exercise> --reference`).
Results and the machine they came from: benchmarks/RESULTS.md.
"""
