"""The floor of ingest on an HTML-heavy corpus: Forge's readers alone on every HTML page, in 2 processes.

    .venv/bin/python benchmarks/extract_floor.py [--corpus /work/bench-e2e/corpus] [--processes 2]

No Prefect, no Dask, no helper process, no shard files: forge_core.readers.dispatch.read_records on
each page's bytes (trafilatura with its fallbacks, then the XML rendered to text), the largest pages
first, a few per task, so that both processes stay busy to the end. What `forge curate`'s ingest of the
same pages cannot go below without reading them differently (benchmarks/curate_e2e.py compares the
whole run). Prints the pages, megabytes, wall seconds, the CPU seconds of the processes and the load
average beside them. Never asserts a time.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from multiprocessing import Pool
from pathlib import Path

HTML = (".html", ".htm", ".xhtml")


def read_page(path: str) -> tuple[int, float, str | None]:
    """(bytes, CPU seconds, the reason it is unreadable or None) for one page."""
    from forge_core.readers.dispatch import ReadConfig, read_records
    from forge_core.readers.extracted import Unreadable

    data = Path(path).read_bytes()
    start = time.process_time()
    try:
        read_records(f"file://{path}", data, ReadConfig())
        reason = None
    except Unreadable as e:
        reason = e.reason
    return len(data), time.process_time() - start, reason


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/bench-e2e/corpus"))
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    pages = sorted(
        (str(p) for p in args.corpus.rglob("*") if p.suffix.lower() in HTML and p.is_file()),
        key=os.path.getsize,
        reverse=True,
    )
    if not pages:
        raise SystemExit(f"no HTML pages under {args.corpus} (benchmarks/package_corpus.py builds the corpus)")
    print(f"extraction floor  {len(pages):,} HTML pages under {args.corpus}  processes {args.processes}")
    print(f"  load avg before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    start = time.perf_counter()
    with Pool(args.processes) as pool:
        results = list(pool.imap_unordered(read_page, pages, chunksize=4))
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    size = sum(r[0] for r in results)
    unreadable = sum(r[2] is not None for r in results)
    print(
        f"  {len(results):,} pages, {size / 1e6:,.1f} MB ({unreadable} unreadable): wall {wall:.1f} s, "
        f"CPU {children.ru_utime + children.ru_stime:.1f} s ({sum(r[1] for r in results):.1f} s in read_records), "
        f"{size / 1e6 / wall:.2f} MB/s; load avg {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
