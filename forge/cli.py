"""The `forge` command: the app, and the command groups it is assembled from.

Each module of forge/commands/ holds a group of commands on a typer app of its own; they are
merged here, in the order `forge --help` lists them. Heavy libraries (Prefect, Dask, Great
Expectations, torch) load only inside the command that needs them, so `forge --help` answers at
once. A new command is a function in one of those modules (or a new module added below).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from forge.commands import audit, datasets, erasure, finetuning, lineage, models, operations, serving, verification
from forge.errors import DEBUG_ENV
from forge.options import fail
from forge_core import __version__

app = typer.Typer(
    name="forge",
    help="Build your own language model from your own documents, on your own machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show tracebacks and every library's log on the terminal (also FORGE_DEBUG=1)."),
    ] = False,
) -> None:
    """Forge: documents to dataset versions to registered models, with a ledger and lineage for every file."""
    if debug:
        os.environ[DEBUG_ENV] = "1"


@app.command()
def version() -> None:
    """Print Forge's version and the hash of its code (the code version recorded in datasets)."""
    from forge_core.identity import code_version

    typer.echo(f"forge {__version__} (code {code_version()})")


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("forge.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented config file holding every setting with its default."""
    from forge_core.config import default_config_yaml

    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    path.write_text(default_config_yaml(), encoding="utf-8")
    typer.echo(f"wrote {path}; edit it, then: forge run SOURCE... --config {path}")


for group in (datasets, finetuning, lineage, audit, models, serving, erasure, verification, operations):
    app.add_typer(group.app)


if __name__ == "__main__":
    app()
