"""Lineage at scale: `forge lineage doc` through the lineage index against a scan of every ledger.

    .venv/bin/python benchmarks/lineage_scale.py [--versions 20] [--docs 1000000] [--churn 0.05]
        [--rounds 2] [--seed 0] [--work /tmp/forge-lineage-scale] [--keep]

A synthetic workspace under --work (deleted at the end unless --keep): --versions dataset versions
of --docs ledger rows each, written as publish writes them (forge_core.ledger.write_ledger, sorted
by source_uri, then a manifest.json), as a nightly rerun over a changing share would make them.
Version v holds documents [v*churn*docs, v*churn*docs + docs) of one stream: consecutive versions
share 95% of their documents (with --churn 0.05), the first and last share none. Ids are real
shapes: 64-hex raw_sha256, 16-hex doc_id (random, not hashed: the index never assumes either),
file:// URIs in department folders; 2% of documents are rows of CSV files (URI#row=N, the file's
sha256); 10% of the documents entering a version are new revisions of a file leaving it (same URI,
new bytes); 88% kept, 4% exact duplicates (the survivor's bytes), 3% near duplicates (detail: the
survivor's doc_id, a similarity), 4% dropped by cleaning rules, 1% quarantined.

Then the index is built for every version (forge_core.lineage.document_index.reindex, force: what publish
does once per version, plus reading each ledger back), with its time and size on disk, and
`doc_lineage` answers three queries: a doc_id present in every version, the sha256 of a file
copied to a second path (two rows per version, one an exact duplicate of the other), and the path
of a file edited midway (a real file under --work; versions before the edit hold the old revision,
found by path, versions without the path are searched by the file's sha256). Contenders alternate
A B A B over --rounds: index (the default) and scan (use_index=False, every ledger read whole);
both answers are checked equal. MLflow is a SQLite store in the workspace, with no model
registered (reached() is timed too). The page cache is warm: the files were just written.
Prints the load average beside every figure. Never asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forge_core.io.workspace import Workspace  # noqa: E402
from forge_core.ledger import write_ledger  # noqa: E402
from forge_core.lineage.document_index import index_root, reindex  # noqa: E402
from forge_core.lineage.queries import complete_datasets, doc_lineage, reached  # noqa: E402
from forge_core.lineage.tracking import use_workspace_tracking  # noqa: E402

DEPARTMENTS = ["finance", "legal", "hr", "engineering", "sales", "support", "it", "operations"]
EXTENSIONS = ["pdf", "docx", "eml", "md", "html", "txt", "pptx", "xlsx"]
CSV_ROWS = 25


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def hex_ids(rng: np.random.Generator, n: int, digits: int) -> pa.StringArray:
    """n random lowercase hex strings of `digits` digits, built in one buffer (no Python loop)."""
    data = rng.bytes(n * digits // 2).hex().encode()
    offsets = np.arange(0, n * digits + 1, digits, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def stream(n: int, root: Path, seed: int, edits_from: int) -> pl.DataFrame:
    """Every document of the stream, in arrival order, with what curation decided of it."""
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=np.int64)
    # A file edited: a new revision at index k >= edits_from (one in ten) takes the URI of k - edits_from.
    place = np.where((k >= edits_from) & (k % 10 == 3), k - edits_from, k)
    tabular = place % 50 == 7  # 2%: records of a CSV file of 25 rows
    frame = pl.DataFrame(
        {"k": k, "place": place, "tabular": tabular, "file_no": np.where(tabular, place // CSV_ROWS, place)}
    )
    names = {"dept": dict(enumerate(DEPARTMENTS)), "ext": dict(enumerate(EXTENSIONS))}
    frame = frame.with_columns(
        dept=(pl.col("place") % len(DEPARTMENTS)).replace_strict(names["dept"], return_dtype=pl.String),
        ext=((pl.col("place") // 8) % len(EXTENSIONS)).replace_strict(names["ext"], return_dtype=pl.String),
        year=2015 + (pl.col("place") // 1000) % 10,
        sha=pl.Series(hex_ids(rng, n, 64)),
        doc_id=pl.Series(hex_ids(rng, n, 16)),
        roll=pl.Series(rng.random(n)),
        survivor=(pl.Series(k - rng.integers(1, 200, n))).clip(0),
    )
    base = f"file://{root}/share"
    table_uri = pl.format(
        base + "/{}/tables/{}/table-{}.csv#row={}", "dept", "year", "file_no", pl.col("place") % CSV_ROWS + 1
    )
    file_uri = pl.format(base + "/{}/{}/doc-{}.{}", "dept", "year", "file_no", "ext")
    decision = (
        pl.when(pl.col("roll") < 0.88).then(pl.lit("kept,dedup,,"))
        .when(pl.col("roll") < 0.92).then(pl.lit("dropped,dedup,exact_duplicate,"))
        .when(pl.col("roll") < 0.95).then(pl.lit("dropped,dedup,near_duplicate,"))
        .when(pl.col("roll") < 0.97).then(pl.lit("dropped,clean,too_short,"))
        .when(pl.col("roll") < 0.99).then(pl.lit("dropped,clean,language_not_allowed,"))
        .otherwise(pl.lit("quarantined,ingest,unreadable_pdf,PdfReadError: EOF marker not found"))
    )  # fmt: skip
    fields = ["status", "stage", "reason", "error"]
    frame = frame.with_columns(
        source_uri=pl.when("tabular").then(table_uri).otherwise(file_uri),
        decision=decision.str.split_exact(",", 3).struct.rename_fields(fields),
    ).unnest("decision")
    # The records of one CSV file share its bytes; an exact duplicate has its survivor's bytes.
    frame = frame.with_columns(
        sha=pl.when("tabular").then(pl.col("sha").first().over("file_no", "tabular")).otherwise("sha")
    )
    duplicate = pl.col("reason").is_in(["exact_duplicate", "near_duplicate"])
    frame = frame.with_columns(
        raw_sha256=pl.when(pl.col("reason") == "exact_duplicate")
        .then(pl.col("sha").gather("survivor"))
        .otherwise("sha"),
        detail=pl.when(duplicate)
        .then(pl.col("doc_id").gather("survivor"))
        .otherwise(pl.col("error").replace("", None)),
        similarity=pl.when(pl.col("reason") == "near_duplicate")
        .then(0.8 + 0.2 * pl.col("roll"))
        .when(duplicate)
        .then(1.0),
        reason=pl.col("reason").replace("", None),
        bytes=pl.Series(rng.integers(200, 2_000_000, n)),
        language=pl.when(pl.col("roll") < 0.97).then(pl.lit("en")),
        language_score=pl.when(pl.col("roll") < 0.97).then(0.98),
    )
    return frame.select(
        "k", "doc_id", "source_uri", "raw_sha256", "bytes", "status", "stage", "reason", "detail", "similarity",
        parent_doc_id=pl.lit(None, pl.String), language="language", language_score="language_score",
        pii=pl.lit(None, pl.String),
    )  # fmt: skip


def pick(everything: pl.DataFrame, docs: int, step: int, versions: int, root: Path) -> tuple[pl.DataFrame, dict]:
    """The queries, and real files for the two paths: a doc_id every version holds, a sha256 at
    two paths, the path of a file edited midway (versions before the edit hold its old revision),
    and the new path of a file moved since (found by its content: its bytes are written to the
    new path and their sha256 into the stream)."""
    always = everything.slice(step * (versions - 1), docs - step * (versions - 1))  # in every version
    plain = always.filter((pl.col("status") == "kept") & ~pl.col("source_uri").str.contains("#"))
    counts = everything.group_by("raw_sha256").len()
    twice = always.filter(pl.col("reason") == "exact_duplicate").join(
        counts.filter(pl.col("len") == 2), on="raw_sha256"
    )
    # index docs + j is a new revision of j when (docs + j) % 10 == 3; j is a file unless j % 50 == 7
    j = next(j for j in range(step * (versions // 2), docs) if (docs + j) % 10 == 3 and j % 50 != 7)
    edited = Path(everything["source_uri"][j].removeprefix("file://"))
    edited.parent.mkdir(parents=True, exist_ok=True)
    edited.write_bytes(b"the revision on disk today, unlike either revision the ledgers recorded\n")
    moved_doc = plain["k"][len(plain) // 3]
    moved = root / "moved" / "renamed-since.pdf"
    moved.parent.mkdir(parents=True)
    moved.write_bytes(b"a file moved to another folder after it was curated\n")
    sha = hashlib.sha256(moved.read_bytes()).hexdigest()
    everything = everything.with_columns(
        raw_sha256=pl.when(pl.col("k") == moved_doc).then(pl.lit(sha)).otherwise("raw_sha256")
    )
    asked = {
        "doc_id": plain["doc_id"][len(plain) // 2],
        "sha256": twice["raw_sha256"][0],
        "path": str(edited),
        "moved path": str(moved),
    }
    return everything, asked


def generate(ws: Workspace, everything: pl.DataFrame, versions: int, docs: int, step: int) -> None:
    for v in range(versions):
        dataset_id = f"ds-{v:016x}"
        ledger = everything.slice(v * step, docs).drop("k").with_columns(dataset_id=pl.lit(dataset_id))
        write_ledger(ws, f"{ws.dataset_dir(dataset_id)}/ledger.parquet", ledger.sort("source_uri", "doc_id"))
        manifest = {"dataset_id": dataset_id, "kind": "documents", "created_at": f"2025-03-{v + 1:02d}T02:00:00+00:00"}
        ws.write_json(f"{ws.dataset_dir(dataset_id)}/manifest.json", manifest)


def du(path: str) -> int:
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True).stdout.split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--churn", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="/tmp/forge-lineage-scale")
    parser.add_argument("--keep", action="store_true", help="keep the workspace")
    args = parser.parse_args()
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    free = shutil.disk_usage(work.parent).free
    need = args.versions * args.docs * 250  # ledgers + index, with room to spare
    if free < need:
        sys.exit(f"{work.parent}: {free / 1e9:.1f} GB free, this run needs about {need / 1e9:.1f} GB")
    ws = Workspace(str(work / "ws"))
    use_workspace_tracking(ws)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    print(
        f"lineage at scale: {args.versions} dataset versions x {args.docs:,} ledger rows, churn {args.churn:.0%} "
        f"a version; polars {pl.__version__}, pyarrow {pa.__version__}, cpus {os.cpu_count()}, commit {commit.strip()}"
    )
    try:
        start = time.perf_counter()
        step = int(args.docs * args.churn)
        everything = stream(args.docs + step * (args.versions - 1), work, args.seed, edits_from=args.docs)
        everything, asked = pick(everything, args.docs, step, args.versions, work)
        generate(ws, everything, args.versions, args.docs, step)
        ledgers_bytes = du(ws.path("datasets"))
        print(f"generated in {time.perf_counter() - start:.1f} s: {len(everything):,} documents in the stream, "
              f"ledgers {ledgers_bytes / 1e6:,.0f} MB on disk (load avg {loadavg()})")  # fmt: skip

        datasets = complete_datasets(ws)
        start = time.perf_counter()
        built = reindex(ws, datasets, force=True)
        seconds = time.perf_counter() - start
        index_bytes = du(index_root(ws))
        per = [b.seconds for b in built]
        print(f"\nindex built: {len(built)} versions, {sum(b.documents for b in built):,} rows in {seconds:.1f} s "
              f"(per version: median {statistics.median(per):.2f} s, max {max(per):.2f} s), "
              f"{index_bytes / 1e6:,.0f} MB on disk = {index_bytes / ledgers_bytes:.2f} x the ledgers, "
              f"{index_bytes / sum(b.documents for b in built):.0f} bytes a row (load avg {loadavg()})")  # fmt: skip
        again = time.perf_counter()
        assert all(b.action == "up to date" for b in reindex(ws, datasets))
        print(f"reindex with nothing to do: {time.perf_counter() - again:.1f} s (hashes every ledger)")

        del everything
        reached(set())  # MLflow's store is created on first use: not part of any query
        print("\n| query | round | contender | load avg | seconds | dataset versions in the answer | index |")
        print("| --- | ---: | --- | --- | ---: | ---: | --- |")
        times: dict[tuple[str, str], list[float]] = {}
        for kind, ref in asked.items():
            answers = {}
            for r in range(1, args.rounds + 1):
                for contender in ("index", "scan"):
                    load = loadavg()
                    start = time.perf_counter()
                    answer = doc_lineage(ws, ref, use_index=contender == "index")
                    took = time.perf_counter() - start
                    times.setdefault((kind, contender), []).append(took)
                    answers[contender] = answer
                    seen = f"{len({a['dataset_id'] for a in answer['datasets']})} ({len(answer['datasets'])} rows)"
                    print(f"| {kind} | {r} | {contender} | {load} | {took:.3f} | {seen} | {answer['index']} |")
            assert answers["index"]["datasets"] == answers["scan"]["datasets"], kind
        print("\nthe index's answers equal the scan's for every query; medians:")
        for kind in asked:
            a, b = statistics.median(times[kind, "index"]), statistics.median(times[kind, "scan"])
            print(f"{kind}: index {a:.3f} s, scan {b:.2f} s, scan / index = {b / a:,.0f}")
        print(f"load avg at the end: {loadavg()}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
