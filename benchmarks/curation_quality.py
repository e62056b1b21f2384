"""Curation quality: how much genuine company text Forge's cleaning keeps, and how much junk it drops.

    .venv/bin/python benchmarks/curation_quality.py [--profiles enterprise,web,none] [--json out.json] [--examples 2]

Reads the labelled set in benchmarks/curation_quality/labelled.jsonl.gz (built by build.py beside it from text
nobody on this project wrote; its README lists the kinds and sources) and runs Forge's whole cleaning chain,
`clean_frame` with `CleanConfig.model_validate({"profile": p})`, in memory, once per profile, on one polars frame
with the INGESTED columns that tests/documents.py's `doc_frame` builds. A checkout whose CleanConfig has no
`profile` key runs its default config once, reported as "web".

Prints, as Markdown: per kind, the documents and, for each profile, the share of genuine documents kept or of
junk dropped; the totals; the seconds each profile took; and the reasons that dropped genuine documents, with the
kinds they hit and an example (what to tune). The load average is printed beside the results. `--json` writes
the same numbers. The header names the git commit and a hash of forge_core's sources.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl
from pydantic import ValidationError

from forge_core.clean.pipeline import CleanConfig, clean_frame

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "benchmarks" / "curation_quality" / "labelled.jsonl.gz"
PROFILES = ("enterprise", "web", "none")


def load(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def frame(rows: list[dict]) -> pl.DataFrame:
    """The documents as an ingested shard holds them: the columns of tests/documents.py's doc_frame."""
    n = len(rows)
    uris = [f"file:///labelled/{r['id']}" for r in rows]
    texts = [r["text"] for r in rows]
    columns = {
        "doc_id": [f"{i:016x}" for i in range(n)],
        "source_uri": uris,
        "source_file": uris,
        "row": [None] * n,
        "raw_sha256": [hashlib.sha256(t.encode()).hexdigest() for t in texts],
        "bytes": [len(t.encode()) for t in texts],
        "format": ["text"] * n,
        "parent_doc_id": [None] * n,
        "text": texts,
    }
    return pl.DataFrame(columns, schema_overrides={"row": pl.Int64, "parent_doc_id": pl.String})


def configs(requested: list[str]) -> list[tuple[str, CleanConfig]]:
    """(name, config) per profile; without a `profile` key in CleanConfig, the default config as "web"."""
    if "profile" not in CleanConfig.model_fields:
        print("CleanConfig has no `profile` key in this checkout: running its default config, reported as web")
        return [("web", CleanConfig())]
    out = []
    for p in requested:
        try:
            out.append((p, CleanConfig.model_validate({"profile": p})))
        except ValidationError as e:
            sys.exit(f"--profiles: {p!r} is not a clean.profile this checkout accepts: {e.errors()[0]['msg']}")
    return out


def run_profile(shard: pl.DataFrame, cfg: CleanConfig) -> tuple[dict[str, tuple[str, str]], float]:
    """doc_id -> (reason, detail) for every dropped document, and the seconds the chain took."""
    start = time.perf_counter()
    out = clean_frame(shard, cfg)
    seconds = time.perf_counter() - start
    dropped = {d: (r or "", t or "") for d, r, t in out.ledger.select("doc_id", "reason", "detail").iter_rows()}
    assert out.kept.height + len(dropped) == shard.height, "kept + dropped must be every document"
    return dropped, seconds


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def forge_sources() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "forge_core").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated clean.profile values")
    ap.add_argument("--labelled", type=Path, default=LABELLED, help="the labelled set (JSON lines, gzip)")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    ap.add_argument("--examples", type=int, default=1, help="example documents shown per drop reason")
    args = ap.parse_args(argv)

    rows = load(args.labelled)
    shard = frame(rows)
    ids = shard["doc_id"].to_list()
    sources = forge_sources()
    labels = Counter(r["label"] for r in rows)
    print(
        f"curation quality  commit {git_commit()}  forge_core sources {sources}  {len(rows):,} documents "
        f"({labels['genuine']:,} genuine, {labels['junk']:,} junk, {len({r['kind'] for r in rows})} kinds)  "
        f"cpus {os.cpu_count()}  load avg {loadavg()}\n"
    )

    results: dict[str, dict] = {}
    for name, cfg in configs([p.strip() for p in args.profiles.split(",") if p.strip()]):
        dropped, seconds = run_profile(shard, cfg)
        results[name] = {"dropped": dropped, "seconds": seconds, "load": loadavg()}
    names = list(results)

    kinds = sorted({(r["label"], r["kind"]) for r in rows}, key=lambda lk: (lk[0] != "genuine", lk[1]))
    per_kind: dict[str, dict] = {}
    print("| label | kind | docs | measure | " + " | ".join(names) + " |")
    print("| --- | --- | ---: | --- | " + " | ".join("---:" for _ in names) + " |")
    for label, kind in kinds:
        members = [doc_id for doc_id, r in zip(ids, rows, strict=True) if r["kind"] == kind and r["label"] == label]
        measure = "kept" if label == "genuine" else "dropped"
        cells, numbers = [], {}
        for name in names:
            n_dropped = sum(doc_id in results[name]["dropped"] for doc_id in members)
            good = len(members) - n_dropped if label == "genuine" else n_dropped
            cells.append(pct(good, len(members)))
            numbers[name] = good
        per_kind[kind] = {"label": label, "docs": len(members), "measure": measure, "counts": numbers}
        print(f"| {label} | {kind} | {len(members)} | {measure} | " + " | ".join(cells) + " |")

    totals: dict[str, dict] = {}
    for name in names:
        dropped = results[name]["dropped"]
        genuine_kept = sum(r["label"] == "genuine" and d not in dropped for d, r in zip(ids, rows, strict=True))
        junk_dropped = sum(r["label"] == "junk" and d in dropped for d, r in zip(ids, rows, strict=True))
        totals[name] = {
            "genuine_kept": genuine_kept,
            "junk_dropped": junk_dropped,
            "genuine_kept_share": genuine_kept / labels["genuine"],
            "junk_dropped_share": junk_dropped / labels["junk"],
            "seconds": results[name]["seconds"],
            "docs_per_second": len(rows) / results[name]["seconds"],
        }
    print(
        f"| **genuine** | **all** | **{labels['genuine']}** | **kept** | "
        + " | ".join(f"**{pct(totals[n]['genuine_kept'], labels['genuine'])}**" for n in names)
        + " |"
    )
    print(
        f"| **junk** | **all** | **{labels['junk']}** | **dropped** | "
        + " | ".join(f"**{pct(totals[n]['junk_dropped'], labels['junk'])}**" for n in names)
        + " |"
    )
    print("| | seconds | | | " + " | ".join(f"{totals[n]['seconds']:.1f}" for n in names) + " |")
    print("\nload avg after each profile: " + ", ".join(f"{n} {results[n]['load']}" for n in names))

    print("\nGenuine documents dropped, by profile and reason (the kinds hit; an example id and the ledger detail):\n")
    print("| profile | reason | genuine dropped | kinds | example |")
    print("| --- | --- | ---: | --- | --- |")
    reasons_out: dict[str, dict] = {}
    by_id = dict(zip(ids, rows, strict=True))
    for name in names:
        by_reason: dict[str, list[str]] = defaultdict(list)
        for doc_id, (reason, _detail) in results[name]["dropped"].items():
            if by_id[doc_id]["label"] == "genuine":
                by_reason[reason].append(doc_id)
        reasons_out[name] = {}
        for reason, members in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0])):
            hit = Counter(by_id[d]["kind"] for d in members)
            reasons_out[name][reason] = {"docs": len(members), "kinds": dict(hit)}
            examples = "; ".join(
                f"`{by_id[d]['id']}`: {results[name]['dropped'][d][1][:90]}" for d in sorted(members)[: args.examples]
            )
            kinds_text = ", ".join(f"{k} {n}" for k, n in hit.most_common())
            print(f"| {name} | {reason} | {len(members)} | {kinds_text} | {examples} |")
        if not by_reason:
            print(f"| {name} | (none) | 0 | | |")

    if forge_sources() != sources:
        print(f"\nWARNING: forge_core changed during the run (now {forge_sources()}): profiles are not comparable")
    print(f"\nload avg {loadavg()}")
    if args.json:
        report = {
            "commit": git_commit(),
            "forge_core_sources": sources,
            "documents": len(rows),
            "labels": dict(labels),
            "profiles": names,
            "per_kind": per_kind,
            "totals": totals,
            "genuine_drop_reasons": reasons_out,
            "load_average": os.getloadavg(),
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
