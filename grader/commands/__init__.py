"""Subcommands of `grade`: one module each, found by grader.cli.subcommands()."""
