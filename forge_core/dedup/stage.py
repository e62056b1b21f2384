"""The dedup stage: sign every shard, plan over the whole dataset, apply each shard's survivors.

Sign and apply run through the executor like every other stage (content-keyed, resumable); the
plan runs once, from the client, because it drives Dask shuffles of its own.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from forge_core.dedup import DedupConfig, plan
from forge_core.dedup.clusters import cluster_report, cluster_report_empty
from forge_core.dedup.index import Signed, index_path, sign_shard
from forge_core.executor import ShardCounts, ShardInput, ShardReport, content_folder, ledger_file, map_stage, run_once
from forge_core.gate_columns import GateColumns, write_gate_columns
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import DEDUPLICATED, LEDGER_PART
from forge_core.steps import LEDGER_COLUMNS, empty_ledger

STAGE = "dedup"


@dataclass
class DedupResult:
    ledger_path: str  # ledger rows (LEDGER_PART) of every document dedup dropped
    plan: ShardReport  # the plan's counts; its folder holds the ledger and clusters.json
    applied: list[ShardReport]  # one per shard: documents in, kept, dropped
    clusters: dict  # the cluster report (clusters.py)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return self.plan.counts


def plan_dedup(ws: Workspace, folder: str, client: Any, signed: Signed, n_docs: int, cfg: DedupConfig) -> ShardCounts:
    """Decide, over the whole dataset, which documents are duplicates and of whom; write the ledger
    rows to the folder's ledger.parquet and the cluster report to clusters.json beside it."""
    dirs = plan.work_dirs(folder)
    for d in dirs.values():  # a crashed attempt's partitions must not mix with this one's
        if ws.exists(d):
            ws.fs.rm(d, recursive=True)
    t = time.perf_counter()
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    if n_docs == 0:
        write_shard(ws, ledger_file(folder), empty_ledger().with_columns(stage=pl.lit(STAGE)), LEDGER_PART)
        ws.write_json(f"{folder}/clusters.json", cluster_report_empty())
        return ShardCounts(0, 0)
    if cfg.exact:
        counts["dropped.exact_duplicate"] = plan.exact_pass(
            client, ws, [signed.folders[s] for s in sorted(signed.folders)], n_docs, cfg.survivor, dirs["exact"]
        )
    seconds["exact"], t = time.perf_counter() - t, time.perf_counter()
    if cfg.near:
        counts.update(plan.near_pass(client, signed, n_docs, cfg, dirs["exact"], dirs["edges"]))
    seconds["near"], t = time.perf_counter() - t, time.perf_counter()
    resolved, clusters = client.submit(_resolve, ws, signed, cfg, dirs, ledger_file(folder), pure=False).result()
    seconds["resolve"] = time.perf_counter() - t
    counts.update(resolved)
    ws.write_json(f"{folder}/clusters.json", clusters)
    ws.write_json(f"{folder}/seconds.json", {k: round(v, 3) for k, v in seconds.items()})
    dropped = counts.get("dropped.exact_duplicate", 0) + counts.get("dropped.near_duplicate", 0)
    return ShardCounts(n_docs, n_docs - dropped, counts)


def _resolve(ws: Workspace, signed: Signed, cfg: DedupConfig, dirs: dict, ledger_path: str) -> tuple[dict, dict]:
    """Components, survivors, ledger rows and the cluster report: one task, on a worker."""
    drops, clusters = plan.resolve(signed, cfg, dirs["exact"], dirs["edges"])
    ledger = plan.ledger_rows(signed, drops) if drops.height else empty_ledger()
    ledger = ledger.with_columns(stage=pl.lit(STAGE)).select(LEDGER_COLUMNS)
    write_shard(ws, ledger_path, ledger, LEDGER_PART)
    report = cluster_report(clusters, drops, lambda refs: plan.attributes(signed, refs), cfg.report_clusters)
    counts = {f"dropped.{reason}": n for reason, n in ledger.group_by("reason").len().iter_rows()}
    counts["near_clusters"] = report["near"]["clusters"]
    counts["exact_groups"] = report["exact"]["clusters"]
    return counts, report


def apply_dedup(
    ws: Workspace,
    folder: str,
    source: str,
    index_file: str,
    plan_ledger: str,
    out_path: str,
    gate: GateColumns | None = None,
) -> ShardCounts:
    """Write the shard's survivors, with their text hash, into the dataset version; with `gate`, the
    columns the deduplicated gate checks go into the apply step's own folder."""
    shard = read_shard(ws, source)
    hashes = read_shard(ws, index_file, columns=["doc_id", "text_hash"])
    dropped = read_shard(ws, plan_ledger, columns=["doc_id"])
    kept = shard.join(hashes, on="doc_id", how="left").join(dropped, on="doc_id", how="anti")
    write_shard(ws, out_path, kept, DEDUPLICATED)
    write_gate_columns(ws, folder, kept, gate)
    return ShardCounts(shard.height, kept.height, {"dropped": shard.height - kept.height})


def deduplicate(
    ws: Workspace,
    client: Any,
    sources: list[str],
    cfg: DedupConfig,
    work: str,
    outputs: list[str],
    *,
    numbers: list[int] | None = None,
    keys: list[Any] | None = None,
    gate: GateColumns | None = None,
) -> DedupResult:
    """Deduplicate cleaned shards `sources` into `outputs` (one each) on the Dask cluster of `client`.

    numbers: each shard's number (default 0..n-1). keys: what identifies each shard's content (the
    curate flow passes the cleaned shards' content-keyed folders); with keys, the signatures and
    the plan go into content-keyed folders, so a rerun with the same shards and settings reuses
    them; without, they go under `work`. Finished steps are never redone. gate: what the
    deduplicated gate checks, computed as each shard's survivors are written.
    """
    numbers = numbers if numbers is not None else list(range(len(sources)))
    settings = cfg.model_dump()
    if keys is None:
        sign_dirs = [posixpath.join(work, "sign", f"{n:05d}") for n in numbers]
        plan_dir = posixpath.join(work, "plan")
    else:
        sign_dirs = [content_folder(ws, "sign", settings, key) for key in keys]
        plan_dir = content_folder(ws, "dedup-plan", settings, keys)
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    sign_inputs = [ShardInput(n, src, (src, n, cfg)) for n, src in zip(numbers, sources, strict=True)]
    signed_reports = map_stage(client, ws, "sign", sign_shard, sign_inputs, None, folders=sign_dirs)
    seconds["sign"] = time.perf_counter() - t

    signed = Signed(ws, {r.index: r.folder for r in signed_reports})
    n_docs = sum(r.n_in for r in signed_reports)
    t = time.perf_counter()
    planned = run_once(ws, STAGE, 0, plan_dir, lambda folder: plan_dedup(ws, folder, client, signed, n_docs, cfg))
    seconds["plan"] = time.perf_counter() - t
    if ws.exists(f"{plan_dir}/seconds.json"):
        seconds |= {f"plan.{k}": v for k, v in ws.read_json(f"{plan_dir}/seconds.json").items()}

    t = time.perf_counter()
    apply_inputs = [
        ShardInput(n, src, (src, index_path(d), planned.ledger_path, out, gate))
        for n, d, src, out in zip(numbers, sign_dirs, sources, outputs, strict=True)
    ]
    apply_dirs = [posixpath.join(work, "apply", f"{n:05d}") for n in numbers]
    applied = map_stage(client, ws, STAGE, apply_dedup, apply_inputs, None, folders=apply_dirs)
    seconds["apply"] = time.perf_counter() - t
    return DedupResult(
        ledger_path=planned.ledger_path,
        plan=planned,
        applied=applied,
        clusters=ws.read_json(f"{plan_dir}/clusters.json"),
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )
