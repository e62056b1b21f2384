"""`forge audit`: a registered model version's documentation, written from Forge's records only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forge.options import ConfigOpt, WorkspaceOpt, fail, open_tracking, resolve_config

app = typer.Typer()

FORMATS = ("md", "html", "json", "card", "dataset-card")


@app.command()
def audit(
    ref: Annotated[str, typer.Argument(metavar="NAME[:VERSION|@ALIAS]", help="Registered model (newest version).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="md, html or json (the source the other two are written from); card: the model card "
            "(Hugging Face metadata, then the same facts); dataset-card: the card of its dataset version.",
        ),
    ] = "md",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: standard output).")] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Document a model version along the EU AI Act's obligations for general-purpose models: the
    public summary of training content (the AI Office's template) and Annex XI's technical
    documentation (design, training, data, compute, energy).

    Every figure cites its record: an MLflow run, param, metric, tag or artifact, or a workspace file
    with its sha256. Provider, contact, intended and acceptable use, licence and release date come
    from the config's `compliance:` section (--config, else the config recorded with the training
    run) and read "to be supplied" until given. The same records give byte-identical output.
    """
    import json

    from forge_core.compliance.facts import AuditError, audit_model

    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: choose {', '.join(FORMATS)}")
    cfg = resolve_config(config, workspace)
    ws = open_tracking(cfg)
    supplied = cfg.compliance if config is not None else None
    try:
        if fmt == "card":
            from forge_core.compliance.cards import model_card

            text = model_card(ws, ref, supplied, config)
        elif fmt == "dataset-card":
            from forge_core.compliance.cards import dataset_card
            from forge_core.lineage.queries import LineageError, resolve_model

            try:
                dataset_id = dict(resolve_model(ref).tags).get("dataset_id")
            except LineageError as e:
                raise AuditError(str(e)) from None
            if not dataset_id:
                raise AuditError(f"{ref}: the version has no dataset_id tag, so no dataset card")
            text = dataset_card(ws, dataset_id)
        else:
            from forge_core.compliance.layout import audit_html, audit_markdown

            facts = audit_model(ws, ref, supplied, config)
            if fmt == "json":
                text = json.dumps(facts, indent=2, ensure_ascii=False) + "\n"
            else:
                text = audit_markdown(facts) if fmt == "md" else audit_html(facts)
    except (AuditError, FileNotFoundError) as e:
        fail(str(e))
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out} ({fmt}) for {ref}")
