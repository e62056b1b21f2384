"""Deduplication that scales with the corpus: per-shard work, Dask shuffles, spilled edges.

1. sign (per shard): text hash, MinHash signature and shingle set of every document (index.py).
2. plan (across shards, plan.py): exact groups by a shuffle on the text hash; near-duplicate
   candidates by a shuffle on LSH band keys, verified against the threshold; connected components
   over the verified edges; one survivor per cluster by the configured rule; the cluster report.
3. apply (per shard): write the shard's survivors.

No process holds every document's text or signature: text is read per shard in step 1 and 3,
signatures and shingles are read back memory-mapped, a few rows per candidate pair.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from forge_core.checkpoint import ShardReport, run_once, run_shard
from forge_core.cluster import map_shards
from forge_core.config import DedupConfig
from forge_core.dedup import plan
from forge_core.dedup.index import Signed, index_path, sign_shard
from forge_core.dedup.report import cluster_report, cluster_report_empty
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import DEDUPLICATED, LEDGER_PART
from forge_core.steps import LEDGER_COLUMNS, empty_ledger

STAGE = "dedup"

__all__ = ["STAGE", "DedupResult", "apply_dedup", "deduplicate", "plan_dedup", "sign_shard"]


@dataclass
class DedupResult:
    ledger_path: str  # ledger rows (LEDGER_PART) of every document dedup dropped
    plan: ShardReport  # the plan's counts; its folder holds the ledger and clusters.json
    applied: list[ShardReport]  # one per shard: documents in, kept, dropped
    clusters: dict  # the cluster report (report.py)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return self.plan.counts


def plan_dedup(ws: Workspace, client: Any, signed: Signed, n_docs: int, cfg: DedupConfig, report: ShardReport) -> None:
    """Decide, over the whole dataset, which documents are duplicates and of whom; write the ledger
    rows to report.ledger_path and the cluster report to clusters.json beside it."""
    dirs = plan.work_dirs(report.folder)
    for d in dirs.values():  # a crashed attempt's partitions must not mix with this one's
        if ws.exists(d):
            ws.fs.rm(d, recursive=True)
    t = time.perf_counter()
    seconds: dict[str, float] = {}
    if n_docs == 0:
        write_shard(ws, report.ledger_path, empty_ledger().with_columns(stage=pl.lit(STAGE)), LEDGER_PART)
        ws.write_json(f"{report.folder}/clusters.json", cluster_report_empty())
        return
    if cfg.exact:
        report.counts["dropped.exact_duplicate"] = plan.exact_pass(
            client, ws, [signed.folders[s] for s in sorted(signed.folders)], n_docs, cfg.survivor, dirs["exact"]
        )
    seconds["exact"], t = time.perf_counter() - t, time.perf_counter()
    if cfg.near:
        report.counts.update(plan.near_pass(client, signed, n_docs, cfg, dirs["exact"], dirs["edges"]))
    seconds["near"], t = time.perf_counter() - t, time.perf_counter()
    counts, clusters = client.submit(_resolve, ws, signed, cfg, dirs, report.ledger_path, pure=False).result()
    seconds["resolve"] = time.perf_counter() - t
    report.counts.update(counts)
    ws.write_json(f"{report.folder}/clusters.json", clusters)
    ws.write_json(f"{report.folder}/seconds.json", {k: round(v, 3) for k, v in seconds.items()})
    report.n_in = n_docs
    report.n_kept = n_docs - counts.get("dropped.exact_duplicate", 0) - counts.get("dropped.near_duplicate", 0)


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
    ws: Workspace, source: str, index_file: str, plan_ledger: str, out_path: str, report: ShardReport
) -> None:
    """Write the shard's survivors, with their text hash, into the dataset version."""
    shard = read_shard(ws, source)
    hashes = read_shard(ws, index_file, columns=["doc_id", "text_hash"])
    dropped = read_shard(ws, plan_ledger, columns=["doc_id"])
    kept = shard.join(hashes, on="doc_id", how="left").join(dropped, on="doc_id", how="anti")
    write_shard(ws, out_path, kept, DEDUPLICATED)
    report.n_in = shard.height
    report.n_kept = kept.height
    report.counts["dropped"] = shard.height - kept.height


def deduplicate(
    ws: Workspace,
    client: Any,
    sources: list[str],
    cfg: DedupConfig,
    work: str,
    outputs: list[str],
    *,
    numbers: list[int] | None = None,
    sign_dirs: list[str] | None = None,
    plan_dir: str | None = None,
) -> DedupResult:
    """Deduplicate cleaned shards `sources` into `outputs` (one each) on the Dask cluster of `client`.

    numbers: each shard's number (default 0..n-1); sign_dirs and plan_dir: where the signatures and
    the plan go (default under work; the curate flow passes content-keyed cache folders, so a rerun
    with the same shards and settings reuses them). Finished steps are never redone.
    """
    numbers = numbers if numbers is not None else list(range(len(sources)))
    sign_dirs = sign_dirs or [posixpath.join(work, "sign", f"{n:05d}") for n in numbers]
    plan_dir = plan_dir or posixpath.join(work, "plan")
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    jobs = [
        (ws, ShardReport("sign", n, d), sign_shard, (src, cfg))
        for n, d, src in zip(numbers, sign_dirs, sources, strict=True)
    ]
    signed_reports = map_shards(client, run_shard, jobs, desc="minhash")
    seconds["sign"] = time.perf_counter() - t

    signed = Signed(ws, {r.index: r.folder for r in signed_reports})
    n_docs = sum(r.n_in for r in signed_reports)
    t = time.perf_counter()
    planned = run_once(ws, ShardReport(STAGE, 0, plan_dir), lambda r: plan_dedup(ws, client, signed, n_docs, cfg, r))
    seconds["plan"] = time.perf_counter() - t
    if ws.exists(f"{plan_dir}/seconds.json"):
        seconds |= {f"plan.{k}": v for k, v in ws.read_json(f"{plan_dir}/seconds.json").items()}

    t = time.perf_counter()
    apply_jobs = [
        (
            ws,
            ShardReport(STAGE, n, posixpath.join(work, "apply", f"{n:05d}")),
            apply_dedup,
            (src, index_path(d), planned.ledger_path, out),
        )
        for n, d, src, out in zip(numbers, sign_dirs, sources, outputs, strict=True)
    ]
    applied = map_shards(client, run_shard, apply_jobs, desc="dedup")
    seconds["apply"] = time.perf_counter() - t
    return DedupResult(
        ledger_path=planned.ledger_path,
        plan=planned,
        applied=applied,
        clusters=ws.read_json(f"{plan_dir}/clusters.json"),
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )
