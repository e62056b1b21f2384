"""`forge lineage`: a model version back to its documents, a document forward to its models."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from forge.options import (
    ConfigOpt,
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    fail,
    open_tracking,
    open_workspace,
    resolve_config,
)

app = typer.Typer()

lineage_app = typer.Typer(
    help="Trace a model version back to its documents, or a document forward to every model it reached.",
    no_args_is_help=True,
)
app.add_typer(lineage_app, name="lineage")


@lineage_app.command("model")
def lineage_model(
    ref: Annotated[str, typer.Argument(metavar="NAME[:VERSION|@ALIAS]", help="Registered model (newest version).")],
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    documents: Annotated[bool, typer.Option("--documents", help="List every kept doc_id with its source.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A model version's dataset version, sources, document counts by status and reason, validation
    results, training config and metrics."""
    from forge_core.lineage.queries import LineageError, model_lineage
    from forge_core.lineage.tables import print_model_lineage

    ws = open_tracking(resolve_config(config, workspace))
    try:
        answer = model_lineage(ws, ref, documents=documents)
    except (LineageError, FileNotFoundError) as e:
        fail(str(e))
    print_model_lineage(answer)
    if as_json:
        emit_json(answer)


@lineage_app.command("doc")
def lineage_doc(
    ref: Annotated[str, typer.Argument(metavar="PATH|SHA256|DOC_ID", help="A source file, its sha256, or a doc_id.")],
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every dataset version that saw a document, its status and reason in each (for a duplicate, the
    document it duplicates), and every model version trained on a dataset where it was kept."""
    from forge_core.lineage.queries import LineageError, doc_lineage
    from forge_core.lineage.tables import print_doc_lineage

    ws = open_tracking(resolve_config(config, workspace))
    erasures = erasures_of_ref(ws, ref)
    try:
        answer = doc_lineage(ws, ref)
    except LineageError as e:
        if not erasures:
            fail(str(e))
        answer = {"query": ref, "datasets": [], "model_versions": [], "index": "used"}
    answer["erasures"] = erasures
    if answer["datasets"]:
        print_doc_lineage(answer)
    for erasure in erasures:  # the record keeps keyed hashes only: found by the document's doc_id or sha256
        replaced = ", ".join(f"{old} -> {new}" for old, new in (erasure["datasets"] or {}).items())
        typer.echo(
            f"erased by request {erasure['request_id']} (received {erasure['received_at']}, reason: "
            f"{erasure['reason']}): dataset versions {replaced}; held: {', '.join(erasure['held_models']) or 'none'}"
        )
    if answer["index"] != "used":
        typer.echo("(the lineage index does not cover every dataset version: ledgers scanned; `forge lineage reindex`)")
    if as_json:
        emit_json(answer)


def erasures_of_ref(ws: Any, ref: str) -> list[dict[str, Any]]:
    """Erasure requests that covered the document PATH (by its content), SHA256 or DOC_ID names."""
    import re
    from pathlib import Path

    from forge_core.erasure.request import erasures_of
    from forge_core.lineage.records import file_digest

    path = Path(ref).expanduser()
    if path.is_file():
        return erasures_of(ws, [file_digest(str(path.resolve()))])
    return erasures_of(ws, [ref]) if re.fullmatch(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{64}", ref) else []


@lineage_app.command("reindex")
def lineage_reindex(
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild every version's index, not only stale ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the lineage index (<workspace>/index/lineage/) of every complete dataset version whose
    index is missing or older than its ledger, and drop that of versions deleted or retired since.
    Publishing keeps it up to date; this builds it for a workspace from before the index."""
    import time

    from forge_core.lineage.document_index import index_root, reindex
    from forge_core.lineage.queries import complete_datasets

    ws = open_workspace(workspace, config)
    start = time.perf_counter()
    done = reindex(ws, complete_datasets(ws), force=force)
    for d in done:
        size = f", {d.documents:,} documents, {d.bytes / 1e6:,.1f} MB" if d.action != "dropped" else ""
        took = f" in {d.seconds:.1f} s" if d.action == "indexed" else ""
        typer.echo(f"{d.dataset_id}: {d.action}{size}{took}")
    indexed = sum(d.action == "indexed" for d in done)
    typer.echo(f"{indexed} of {sum(d.action != 'dropped' for d in done)} dataset versions indexed, "
               f"{sum(d.action == 'dropped' for d in done)} dropped, in {time.perf_counter() - start:.1f} s: "
               f"{ws.display(index_root(ws))}")  # fmt: skip
    if as_json:
        emit_json({"index": ws.display(index_root(ws)), "datasets": [vars(d) for d in done]})
