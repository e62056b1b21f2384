"""Serving: `forge serve`, a registered model behind the OpenAI HTTP API."""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

from forge.options import ConfigOpt, WorkspaceOpt, fail, open_tracking, resolve_config

app = typer.Typer()


@app.command()
def serve(
    ref: Annotated[str, typer.Argument(metavar="NAME[:VERSION|@ALIAS]", help="Registered model (newest version).")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on; loopback unless you say otherwise.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", metavar="VAR", help="Require 'Authorization: Bearer KEY', KEY read from $VAR."),
    ] = None,
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="Requests decoded together at most.")] = 16,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Answer the OpenAI HTTP API (completions and chat, streamed or not) for a registered model.

    Endpoints: /v1/models, /v1/completions, /v1/chat/completions and /health. Requests that arrive
    together are decoded together in one batch; chat messages are rendered with the model's own
    chat template. Loopback only unless --host says otherwise. Stops on Ctrl-C or SIGTERM.
    """
    key = None
    if api_key_env is not None:
        key = os.environ.get(api_key_env)
        if not key:
            fail(f"--api-key-env {api_key_env}: the environment variable {api_key_env} is not set (or empty)")
    from forge_core.airgap import is_loopback

    if not is_loopback(host) and key is None:
        typer.secho(
            f"warning: listening on {host} without --api-key-env: anyone who can reach this machine can use the model",
            fg=typer.colors.YELLOW,
            err=True,
        )

    import uvicorn

    from forge_core.chat.spec import spec_of_loaded
    from forge_core.interop.bases import load_version
    from forge_core.lineage.queries import LineageError
    from forge_core.serve.api import Served, build_app
    from forge_core.serve.engine import Engine

    open_tracking(resolve_config(config, workspace))
    try:
        mv, loaded, _, _ = load_version(ref)
    except LineageError as e:
        fail(str(e))
    tokenizer = loaded.tokenizer
    engine = Engine(loaded.model, lambda ids: tokenizer.decode(ids, skip_special_tokens=True), max_batch=max_batch)
    served = Served(
        name=mv.name,
        version=str(mv.version),
        ref=ref,
        tokenizer=tokenizer,
        spec=spec_of_loaded(loaded),
        eos_id=loaded.eos_id,
        block_size=loaded.model.cfg.block_size,
        engine=engine,
        api_key=key,
    )
    typer.echo(f"serving {served.model_id} on http://{host}:{port}/v1 (chat template: {served.spec.origin})")
    # uvicorn stops gracefully on SIGTERM or Ctrl-C (a stream still running gets a few seconds),
    # then raises the signal again under the handlers it found: these make that a clean exit, where
    # Python's default would kill the process by the signal and a service manager would see a failure.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _: sys.exit(0 if number == signal.SIGTERM else 130))
    uvicorn.run(build_app(served), host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
