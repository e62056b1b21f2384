"""The `forge` executable. `forge train` goes straight to its own argparse command line, which
needs only torch, lightning and numpy, so it works on a GPU node without typer, pydantic or the
data stack; everything else is the typer app in cli.py."""

from __future__ import annotations

import sys

# Commands that start no process: no watchdog for them (forge/lifeline.py).
QUICK = {"version", "init", "size"}


def main() -> None:
    if sys.argv[1:2] == ["train"]:
        from forge_core.train.command import main as train

        raise SystemExit(train(sys.argv[2:]))
    from forge import runlog
    from forge.cli import app
    from forge.errors import run_guarded
    from forge.lifeline import start_watchdog

    runlog.enable()
    words = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    if words and words[0] not in QUICK and "--help" not in sys.argv:
        start_watchdog()  # every server or worker started from here dies with this process
    run_guarded(app)
