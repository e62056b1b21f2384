"""`forge lineage` answers as tables a compliance officer can read in a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_model_lineage(r: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(soft_wrap=True)
    m, d = r["model"], r["dataset"]
    aliases = f" (@{', @'.join(m['aliases'])})" if m["aliases"] else ""
    console.print(f"[bold]{m['name']} version {m['version']}{aliases}[/bold]  run {m['run_id']}")
    for key in ("forge_version", "git_commit", "prefect_flow_run_id", "validation_status"):
        if key in m["tags"]:
            console.print(f"  {key}: {m['tags'][key]}")
    if d is None:  # an imported base: the root of its lineage
        b = r["base"]
        console.print(f"imported base ({b.get('architecture')}) from {b.get('source')}; trained on no Forge dataset")
        console.print(f"  files sha256 (of their sha256sum listing): {b.get('files_digest')}")
        for path, size, sha in b.get("files", []):
            console.print(f"  {sha}  {path}  ({size:,} bytes)")
        if b.get("licence_sha256"):
            console.print(f"  licence sha256 {b['licence_sha256']} (text in the version's tag base.licence)")
        return
    verified = "matches the model's tag" if d["ledger_matches_tag"] else "DOES NOT match the model's tag"
    kind = f" ({d['kind']})" if d.get("kind") else ""
    console.print(f"[bold]dataset {d['dataset_id']}[/bold]{kind}  {d['path']}  (created {d['created_at']})")
    console.print(f"  ledger sha256 {d['ledger_digest']}: {verified}")
    console.print(f"  sources: {', '.join(d['sources'])} ({d['files']} files)")
    if p := r.get("parent"):
        trained = f", trained on {p['dataset_id']}" if p.get("dataset_id") else ""
        console.print(
            f"[bold]fine-tuned ({p.get('method')}) from {p['name']} version {p['version']}[/bold]{trained}: "
            f"`forge lineage model {p['name']}:{p['version']}` traces it"
        )
    if b := r.get("base"):
        console.print(f"[bold]base {b['name']} version {b['version']}[/bold]  ({b.get('architecture', '')})")
        console.print(f"  files sha256 (of their sha256sum listing): {b.get('files_digest') or 'not recorded'}")
        for path, size, sha in b.get("files", []):
            console.print(f"  {sha}  {path}  ({size:,} bytes)")

    c = r["counts"]
    counts = Table(title="documents by status and reason")
    for column in ("status", "stage", "reason", "documents"):
        counts.add_column(column, justify="right" if column == "documents" else "left")
    counts.add_row("ingested", "", "", str(c["ingested"]))
    counts.add_row("kept", "", "", str(c["kept"]), style="green")
    for where, reasons in c["by_reason"].items():
        status, _, stage = where.partition(".")
        for reason, n in reasons.items():
            counts.add_row(status, stage, reason, str(n))
    console.print(counts)

    gates = Table(title="validation gates")
    for column in ("stage", "result", "checks", "failed"):
        gates.add_column(column)
    for stage, v in r["validation"].items():
        result = "skipped" if v["success"] is None else "passed" if v["success"] else "FAILED"
        gates.add_row(stage, result, str(v.get("checks", "")), ", ".join(v.get("failed", [])))
    console.print(gates)

    training = Table(title="training")
    training.add_column("setting or metric")
    training.add_column("value", justify="right")
    for key, value in r["training"]["metrics"].items():
        training.add_row(key, f"{value:.4g}")
    for key, value in r["training"]["params"].items():
        training.add_row(key, str(value))
    console.print(training)

    if "documents" in r:
        docs = Table(title=f"{len(r['documents'])} kept documents")
        docs.add_column("doc_id")
        docs.add_column("source")
        for row in r["documents"]:
            docs.add_row(row["doc_id"], row["source_uri"])
        console.print(docs)


def print_doc_lineage(r: dict[str, Any], console: Console | None = None) -> None:
    """One block per dataset version (full ids and URIs do not fit a table in 80 columns)."""
    console = console or Console(soft_wrap=True)
    console.print(f"[bold]{r['query']}[/bold] (matched by {r['matched_by']})")
    for a in r["datasets"]:
        status = f"[green]{a['status']}[/green]" if a["status"] == "kept" else a["status"]
        why = f" at {a['stage']}: {a['reason']}" if a["status"] != "kept" else ""
        console.print(f"dataset {a['dataset_id']}: {status}{why}")
        console.print(f"  doc_id {a['doc_id']}  {a['source_uri']}")
        if dup := a.get("duplicate_of"):
            similar = f" (Jaccard {dup['similarity']:.3f})" if dup.get("similarity") is not None else ""
            console.print(f"  duplicate of {dup['doc_id']}  {dup['source_uri']}{similar}")
        elif a["detail"]:
            console.print(f"  {a['detail']}")
    if not r["model_versions"]:
        console.print("model versions trained on it: none")
        return
    console.print("model versions trained on a dataset where it was kept, and those fine-tuned from them:")
    for v in r["model_versions"]:
        aliases = f" (@{', @'.join(v['aliases'])})" if v["aliases"] else ""
        how = f"fine-tuned from {v['via']}" if v.get("via") else f"dataset {v['dataset_id']}"
        console.print(f"  {v['name']} version {v['version']}{aliases}  {how}")
