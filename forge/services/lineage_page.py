"""The lineage page of `forge ui`: a document forward to every model version it reached, a model
version back to its dataset version and documents, with links into the MLflow and Prefect UIs.

It answers from what `forge lineage` reads (forge_core/lineage/queries.py), nothing else: the
workspace's ledgers and MLflow's records, through the workspace's tracking store. A model
version's documents are filtered and paged in polars; a page holds `page_size` rows, never the
whole ledger. Server-rendered (lineage_html.py), no scripts, bound to loopback like the two UIs.
`forge ui` runs it as a child process (forge/services/ui.py):

    python -m forge.services.lineage_page --workspace WS --port 5050 --mlflow-url U --prefect-url U
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

from forge.services.lineage_html import render
from forge_core.io.workspace import Workspace
from forge_core.lineage.queries import (
    DUPLICATE_REASONS,
    LineageError,
    all_model_versions,
    doc_lineage,
    ledgers_of,
    model_lineage,
)

PAGE_SIZE = 50
STATUSES = ("kept", "dropped", "quarantined")
DOCUMENT_COLUMNS = ("doc_id", "source_uri", "status", "stage", "reason", "detail")
# No script may run and nothing may load from elsewhere, even if some text slipped past escaping.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Links:
    """Where the other two UIs of `forge ui` answer ('' when there is none to link to)."""

    mlflow: str = ""
    prefect: str = ""

    def model_version(self, name: str, version: str) -> str:
        return f"{self.mlflow}/#/models/{quote(name, safe='')}/versions/{quote(str(version), safe='')}"

    def run(self, experiment_id: str, run_id: str) -> str:
        return f"{self.mlflow}/#/experiments/{quote(experiment_id, safe='')}/runs/{quote(run_id, safe='')}"

    def flow_run(self, flow_run_id: str) -> str:
        return f"{self.prefect}/runs/flow-run/{quote(flow_run_id, safe='')}"


@dataclass
class DocumentPage:
    """One page of a dataset version's ledger, filtered by status and reason."""

    status: str
    reason: str
    page: int
    pages: int
    total: int
    reasons: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def query(self, page: int) -> str:
        params = {k: v for k, v in (("status", self.status), ("reason", self.reason)) if v}
        return urlencode({**params, "page": page})


def document_page(ledger: Any, status: str, reason: str, page: int, page_size: int) -> DocumentPage:
    """Filter and slice in polars: only the rows of the page asked for leave the frame."""
    import polars as pl

    view = ledger
    if status:
        view = view.filter(pl.col("status") == status)
    if reason:
        view = view.filter(pl.col("reason") == reason)
    pages = max(1, math.ceil(view.height / page_size))
    page = min(max(1, page), pages)
    rows = view.sort("source_uri", "doc_id").slice((page - 1) * page_size, page_size).select(DOCUMENT_COLUMNS)
    reasons = sorted(r for r in ledger["reason"].unique().to_list() if r)
    return DocumentPage(status, reason, page, pages, view.height, reasons, rows.to_dicts())


def version_origin(mv: Any) -> str:
    tags = mv.tags or {}
    if tags.get("forge.kind") == "base":
        return f"imported base ({tags.get('base.architecture', '')})"
    if "parent.name" in tags:
        return f"fine-tuned from {tags['parent.name']} version {tags.get('parent.version')}"
    return f"dataset {tags.get('dataset_id', '(not recorded)')}"


def registered(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC") if ms else ""


def run_links(run_id: str | None) -> dict[str, Any] | None:
    """The run a version came from and its pipeline's parent run, as the MLflow UI addresses them."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not run_id:
        return None
    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException:  # a version registered from a run since deleted
        return None
    parent = run.data.tags.get("mlflow.parentRunId")
    return {"experiment_id": run.info.experiment_id, "run_id": run_id, "parent": parent}


def host_name(host: str) -> str:
    """A Host header without its port: 127.0.0.1:5050 -> 127.0.0.1, [::1]:5050 -> [::1]."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.split(":", 1)[0]


def page_error(links: Links, title: str, message: str, status_code: int) -> HTMLResponse:
    html = render("error", title=title, message=message, links=links)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def build_app(ws: Workspace, links: Links, page_size: int = PAGE_SIZE, hosts: set[str] | None = None) -> FastAPI:
    """The lineage app over a workspace whose MLflow client is already set (use_workspace_tracking).

    `hosts`: the Host header values it answers to (loopback names by default), so a web page that
    rebinds its own name to 127.0.0.1 cannot read the workspace's lineage through a visitor's browser.
    """
    allowed = hosts or {"127.0.0.1", "localhost", "[::1]"}
    app = FastAPI(title="Forge lineage", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def loopback_hosts_only(request: Request, call_next: Any) -> Any:
        host = request.headers.get("host", "")
        if host_name(host) not in allowed:
            return PlainTextResponse(f"host {host!r} is not served here", status_code=400)
        return await call_next(request)

    def html(template: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(render(template, links=links, **context), headers=SECURITY_HEADERS)

    @app.get("/health")
    def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        versions = sorted(all_model_versions(), key=lambda v: (v.name, int(v.version)))
        rows = [
            {"name": v.name, "version": str(v.version), "origin": version_origin(v)}
            | {"created": registered(v.creation_timestamp)}
            for v in versions
        ]
        return html("home", title="Lineage", versions=rows)

    @app.get("/documents", response_class=HTMLResponse)
    def documents(q: str = "") -> HTMLResponse:
        q = q.strip()
        if not q:
            return RedirectResponse("/", status_code=303)
        path = Path(q).expanduser()
        if path.exists() and not path.is_file() and not path.is_dir():  # a device or a pipe: never read
            return page_error(links, "Not a document", f"{q} is not a regular file", 400)
        try:
            answer = doc_lineage(ws, q)
        except LineageError as e:
            return page_error(links, "Document not found", str(e), 404)
        return html("document", title=f"Document {q}", r=answer)

    @app.get("/models/{name:path}/{version}", response_class=HTMLResponse)
    def model(name: str, version: str, status: str = "", reason: str = "", page: int = Query(1, ge=1)) -> HTMLResponse:
        if not version.isdigit():
            return page_error(links, "Not a model version", f"version {version!r} is not a number", 404)
        if status and status not in STATUSES:
            return page_error(links, "Unknown status", f"status must be one of {', '.join(STATUSES)}", 400)
        try:
            answer = model_lineage(ws, f"{name}:{version}")
        except (LineageError, FileNotFoundError) as e:
            return page_error(links, "Model version not found", str(e), 404)
        run = run_links(answer["model"]["run_id"])
        docs = None
        if answer["dataset"] is not None:
            ledger = ledgers_of(ws, answer["dataset"]["dataset_id"])
            docs = document_page(ledger, status, reason, page, page_size)
        title = f"{name} version {version}"
        return html("model", title=title, r=answer, run=run, p=docs, duplicate_reasons=DUPLICATE_REASONS)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forge.services.lineage_page", description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", required=True, help="workspace folder or fsspec URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--mlflow-url", default="", help="the MLflow UI to link to")
    parser.add_argument("--prefect-url", default="", help="the Prefect UI to link to")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="documents per page")
    args = parser.parse_args(argv)

    import uvicorn

    from forge_core.airgap import is_loopback
    from forge_core.lineage.tracking import use_workspace_tracking

    if not is_loopback(args.host):
        parser.error(f"--host {args.host!r} is not a loopback address: the page has no sign-in")
    ws = Workspace(args.workspace, create=False)
    use_workspace_tracking(ws)
    links = Links(mlflow=args.mlflow_url.rstrip("/"), prefect=args.prefect_url.rstrip("/"))
    hosts = {"127.0.0.1", "localhost", "[::1]", f"[{args.host}]" if ":" in args.host else args.host}
    app = build_app(ws, links, page_size=args.page_size, hosts=hosts)
    # uvicorn finishes its requests on SIGTERM (the supervisor's stop), then returns.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
