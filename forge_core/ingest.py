"""Ingestion: a shard of source files becomes a shard of documents plus quarantine rows.

Any failure to read a file, expected (corrupt, wrong type, too large) or not (a reader bug), is
caught here per file and becomes a quarantined ledger row with the error text: one bad file never
stops a run and never disappears. A shard's files are read in a helper process watched against
ingest.limits (readers/limits.py), so a file that would take too long or too much memory, or that
crashes a C parser, is quarantined (extraction_timeout, extraction_memory, extraction_crashed) and
the shard goes on.

A document's source_uri is the file's URI, with a fragment for what inside the file it is: a row of
a tabular file (`tickets.csv#row=3`), an e-mail's attachment (`mail.eml#attachment=offer.pdf`), or a
row of a tabular attachment (`mail.eml#attachment=prices.csv&row=3`). Its doc_id hashes that URI with
the file's sha256. An attachment's parent_doc_id is the e-mail's doc_id; its format and bytes are the
attachment's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import fsspec
import polars as pl
from pydantic import Field

from forge_core.executor.work import ShardCounts, docs_file, ledger_file
from forge_core.gate_columns import GateColumns, write_gate_columns
from forge_core.identity import doc_id
from forge_core.io.shards import write_shard
from forge_core.io.sources import Fingerprint, SourceError
from forge_core.io.workspace import Workspace
from forge_core.readers.dispatch import ReadConfig, format_of, read_records
from forge_core.readers.extracted import Record, Unreadable
from forge_core.readers.limits import HelperFailed, Watchdog, kept_watchdog
from forge_core.schema import INGESTED, LEDGER_PART
from forge_core.section import MiB

STAGE = "ingest"


class IngestConfig(ReadConfig):
    """How source files become documents."""

    max_file_bytes: int = Field(
        default=256 * MiB, gt=0, description="Files larger than this are quarantined as file_too_large."
    )
    shard_max_files: int = Field(
        default=256, gt=0, description="Source files per ingest shard (the unit of parallel work)."
    )
    # 16 MiB: HTML extraction runs at about 1.2 MB/s per core, so a shard takes at most ~15 s and the
    # last shards of a run spread over the workers; at 64 MiB one documentation version's HTML was a
    # single shard that one worker read while the other idled (benchmarks/curate_e2e.py).
    shard_max_bytes: int = Field(default=16 * MiB, gt=0, description="Raw bytes per ingest shard.")


# Reading cost per byte, relative to HTML, by format: what orders the shards (costliest first), never
# what they read. Measured on benchmarks/curate_e2e.py's corpus: trafilatura takes ~0.8 CPU-s per
# MB of HTML; decoding text ~0.005 s per MB. PDF and Word parse like HTML; an e-mail is mostly text.
READ_COST = {"html": 1.0, "pdf": 1.0, "docx": 0.5, "email": 0.2}
TEXT_COST = 0.01
FILE_COST = 4096  # a file's own overhead (its trip to the helper and back), in HTML-byte equivalents


def shard_cost(files: list[Fingerprint]) -> float:
    """An estimate of a shard's reading work, to start the costliest shards first."""
    return sum(fp.size * READ_COST.get(format_of(fp.uri), TEXT_COST) + FILE_COST for fp in files)


def _quarantine(uri: str, sha: str, size: int, reason: str, detail: str, parent: str | None = None) -> dict:
    return {
        "doc_id": doc_id(uri, sha),
        "source_uri": uri,
        "raw_sha256": sha,
        "bytes": size,
        "status": "quarantined",
        "stage": STAGE,
        "reason": reason,
        "detail": detail,
        "similarity": None,
        "parent_doc_id": parent,
    }


def record_uri(uri: str, rec: Record) -> str:
    """The file's URI with a fragment naming the attachment and/or row the record came from."""
    parts = []
    if rec.attachment is not None:
        parts.append(f"attachment={rec.attachment.name}")
    if rec.row is not None:
        parts.append(f"row={rec.row}")
    return f"{uri}#{'&'.join(parts)}" if parts else uri


def _size(rec: Record, text: str, file_size: int) -> int:
    """A row's text size (the file's would count it once per row), else the attachment's or the file's."""
    if rec.row is not None:
        return len(text.encode("utf-8"))
    return rec.attachment.bytes if rec.attachment else file_size


def read_file(
    fp: Fingerprint, cfg: IngestConfig, read: Callable[[str, bytes, IngestConfig], list[Record]] = read_records
) -> tuple[list[dict], list[dict]]:
    """Documents and quarantine rows from one source file.

    read: how its bytes become records; ingest_shard's reads in the watched helper process.
    """
    uri, sha = fp.uri, fp.raw_sha256 or ""
    fmt = format_of(uri)
    if fp.raw_sha256 is None:
        return [], [_quarantine(uri, sha, fp.size, "unreadable_file", fp.error or "could not be read")]
    if fp.size > cfg.max_file_bytes:
        detail = f"{fp.size} bytes exceeds ingest.max_file_bytes = {cfg.max_file_bytes}"
        return [], [_quarantine(uri, sha, fp.size, "file_too_large", detail)]
    try:
        with fsspec.open(uri, "rb") as f:
            data = f.read()
        records = read(uri, data, cfg)
    except Unreadable as e:
        return [], [_quarantine(uri, sha, fp.size, e.reason, e.detail)]
    except HelperFailed:
        raise  # the machine's fault, not the file's: the shard fails and is redone, not reused
    except Exception as e:  # a reader bug or an OS error must still end in the ledger
        return [], [_quarantine(uri, sha, fp.size, f"unreadable_{fmt}", f"{type(e).__name__}: {e}")]

    if not records:
        return [], [_quarantine(uri, sha, fp.size, "no_records", f"the {fmt} file holds no records")]
    docs, bad = [], []
    email_doc_id = doc_id(uri, sha)  # the parent of the records read from the file's attachments
    for rec in records:
        rec_uri = record_uri(uri, rec)
        parent = email_doc_id if rec.attachment else None
        if rec.reason is not None:
            # A bad attachment has its size; a bad row (of a file or of an attachment) has none of its own.
            size = rec.attachment.bytes if rec.attachment and rec.row is None else 0
            bad.append(_quarantine(rec_uri, sha, size, rec.reason, rec.detail or "", parent))
            continue
        text = rec.text or ""
        docs.append(
            {
                "doc_id": doc_id(rec_uri, sha),
                "source_uri": rec_uri,
                "source_file": uri,
                "row": rec.row,
                "raw_sha256": sha,
                "bytes": _size(rec, text, fp.size),
                "format": rec.format or (rec.attachment.format if rec.attachment else fmt),
                "parent_doc_id": parent,
                "text": text,
            }
        )
    return docs, bad


def ingest_shard(
    ws: Workspace,
    folder: str,
    files: list[Fingerprint],
    cfg: IngestConfig,
    gate: GateColumns | None = None,
    keep_helper: bool = False,
) -> ShardCounts:
    """Read the shard's files into documents; with `gate`, also the columns the ingested gate checks.

    keep_helper: leave the reading helper running for this thread's next shard (the stage then
    stops it with readers.limits.close_kept); otherwise it stops with the shard.
    """
    docs: list[dict] = []
    quarantined: list[dict] = []
    # The helper is handed what the readers take, so it never imports the rest of ingest (pyarrow).
    read_cfg = ReadConfig.model_validate(cfg.model_dump(include=set(ReadConfig.model_fields)))
    preload = (read_records.__module__,)
    helper = (
        contextlib.nullcontext(kept_watchdog(cfg.limits, preload)) if keep_helper else Watchdog(cfg.limits, preload)
    )
    with helper as watchdog:

        def read(uri: str, data: bytes, _: IngestConfig) -> list[Record]:
            return watchdog.call(read_records, uri, data, read_cfg)

        for fp in files:
            d, q = read_file(fp, cfg, read)
            docs.extend(d)
            quarantined.extend(q)
    frame = pl.DataFrame(docs, schema=pl.Schema(pl.from_arrow(INGESTED.empty_table()).schema))
    ledger = pl.DataFrame(quarantined, schema=pl.Schema(pl.from_arrow(LEDGER_PART.empty_table()).schema))
    write_shard(ws, docs_file(folder), frame, INGESTED)
    write_shard(ws, ledger_file(folder), ledger, LEDGER_PART)
    write_gate_columns(ws, folder, frame, gate)
    counts = {f"quarantined.{reason}": n for reason, n in ledger.group_by("reason").len().iter_rows()}
    counts |= {f"format.{fmt}": n for fmt, n in frame.group_by("format").len().iter_rows()}
    counts["files"] = len(files)
    return ShardCounts(len(files), frame.height, counts)


class MixedKinds(ValueError):
    """Conversations and documents in one dataset version, which is either a pretraining corpus or
    a fine-tuning set, never both."""


def require_documents(sources: list[str], counts: dict[str, int]) -> None:
    """Stop with the reasons when nothing was readable: gating an empty stage would report nine failed
    expectations and no cause."""
    if any(n for k, n in counts.items() if k.startswith("format.")):
        return
    reasons = sorted(((k.removeprefix("quarantined."), n) for k, n in counts.items() if k.startswith("quarantined.")))
    why = ", ".join(f"{n} {reason}" for reason, n in reasons) or "none read"
    raise SourceError(
        f"no readable documents in {', '.join(sources)}: {counts.get('files', 0)} files, all quarantined ({why}); "
        "check the formats Forge reads (README, 'What happens to a document') or ingest.limits"
    )


def dataset_kind(configured: str, counts: dict[str, int]) -> str:
    """documents or chat: as ingest.kind says, or (auto) chat when every ingested record is a
    conversation. A mix under auto is an error: trained on as text, the conversations would teach
    the turn markers; fine-tuned on, the documents would have no turns."""
    if configured != "auto":
        return configured
    formats = {k.removeprefix("format."): n for k, n in counts.items() if k.startswith("format.") and n}
    chat = formats.pop("chat", 0)
    if chat and formats:
        others = ", ".join(f"{n} {fmt}" for fmt, n in sorted(formats.items()))
        raise MixedKinds(
            f"the sources hold {chat} conversations (JSONL of messages or prompt/completion) and documents "
            f"({others}): curate them as separate sources, or set ingest.kind to chat or documents"
        )
    return "chat" if chat else "documents"
