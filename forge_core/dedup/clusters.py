"""The cluster report: how much duplication there was, in what shapes, and the worst offenders.

A reviewer deciding whether a threshold is right wants the size distribution and a look at the
biggest clusters (a boilerplate page copied a thousand times reads differently from a thousand
pairs), so both go into stats.json and the stage's artifact in the orchestrator's UI.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

BINS = [(2, 2), (3, 3), (4, 4), (5, 9), (10, 99), (100, None)]
SAMPLES = 3


def _bin(lo: int, hi: int | None) -> str:
    return str(lo) if lo == hi else (f"{lo}-{hi}" if hi else f"{lo}+")


def histogram(sizes: pl.Series) -> dict[str, int]:
    return {
        _bin(lo, hi): int(sizes.filter(sizes >= lo if hi is None else sizes.is_between(lo, hi)).len())
        for lo, hi in BINS
    }


def cluster_report(
    clusters: pl.DataFrame, drops: pl.DataFrame, attributes: Callable[[np.ndarray], pl.DataFrame], top: int
) -> dict:
    """clusters: ref, cluster, kind (exact | near); drops: ref, survivor, reason.

    attributes(refs) gives index rows (ref, source_uri, ...) for the few documents named in the report.
    """
    sizes = (
        clusters.group_by("kind", "cluster")
        .agg(size=pl.len())
        .sort("size", "kind", "cluster", descending=[True, False, False])
    )
    report: dict = {}
    for kind in ("exact", "near"):
        s = sizes.filter(pl.col("kind") == kind)["size"]
        report[kind] = {
            "clusters": s.len(),
            "documents": int(s.sum() or 0),
            "dropped": int(s.sum() or 0) - s.len(),
            "size_histogram": histogram(s),
        }
    largest = sizes.head(top)
    picked = largest.join(clusters, on=["kind", "cluster"])
    # survivor of each listed cluster: exact clusters are keyed by it; a near cluster's is in drops
    near_survivor = drops.filter(pl.col("reason") == "near_duplicate").select("ref", "survivor")
    picked = picked.join(near_survivor, on="ref", how="left").with_columns(
        survivor=pl.when(pl.col("kind") == "exact")
        .then(pl.col("cluster"))
        .otherwise(pl.col("survivor").drop_nulls().first().over("kind", "cluster"))
    )
    refs = np.unique(np.concatenate([picked["ref"].to_numpy(), picked["survivor"].drop_nulls().to_numpy()]))
    uris = dict(attributes(refs).select("ref", "source_uri").iter_rows()) if len(refs) else {}
    listed = []
    for kind, cluster, size in largest.select("kind", "cluster", "size").iter_rows():
        rows = picked.filter((pl.col("kind") == kind) & (pl.col("cluster") == cluster)).sort("ref")
        survivor = rows["survivor"][0]
        others = [uris[r] for r in rows["ref"] if r != survivor][:SAMPLES]
        listed.append({"kind": kind, "size": size, "kept": uris.get(survivor), "dropped_sample": others})
    report["largest"] = listed
    return report


def cluster_report_empty() -> dict:
    empty = pl.DataFrame(schema={"ref": pl.UInt64, "cluster": pl.UInt64, "kind": pl.String})
    drops = pl.DataFrame(schema={"ref": pl.UInt64, "survivor": pl.UInt64, "reason": pl.String})
    return cluster_report(empty, drops, lambda refs: pl.DataFrame(), 0)


def markdown(report: dict) -> str:
    """The sizes of the clusters as a Markdown table (forge_core/report.py lists the largest below it:
    a table cell of several long paths is clipped by the UIs and would need raw HTML to break)."""
    lines = ["| | clusters | documents | dropped | " + " | ".join(_bin(lo, hi) for lo, hi in BINS) + " |"]
    lines.append("|---" * (4 + len(BINS)) + "|")
    for kind in ("exact", "near"):
        r = report[kind]
        hist = " | ".join(f"{r['size_histogram'].get(_bin(lo, hi), 0):,}" for lo, hi in BINS)
        lines.append(f"| {kind} | {r['clusters']:,} | {r['documents']:,} | {r['dropped']:,} | {hist} |")
    return "\n".join(lines)
