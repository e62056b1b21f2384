"""The Arrow schema of each stage's shards and of the ledger: the data contract in code.

Shards are validated against these on write, so a stage that forgets a column fails where it
runs, not three stages later.
"""

from __future__ import annotations

import pyarrow as pa

# Identity and provenance carried by every document through every stage.
PROVENANCE = [
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("source_uri", pa.string(), nullable=False),  # file URI, plus #row=N for a tabular record
    pa.field("source_file", pa.string(), nullable=False),  # the file URI alone
    pa.field("row", pa.int64()),  # 1-based record number in a tabular file, else null
    pa.field("raw_sha256", pa.string(), nullable=False),  # sha256 of the source file's bytes
    pa.field("bytes", pa.int64(), nullable=False),  # file size, or a record's UTF-8 text size
    pa.field("format", pa.string(), nullable=False),
    pa.field("parent_doc_id", pa.string()),  # for an e-mail attachment: the e-mail's doc_id
]

INGESTED = pa.schema([*PROVENANCE, pa.field("text", pa.large_string(), nullable=False)])
# What cleaning learned about a document, carried into the ledger for every document that got that far.
ANNOTATIONS = [
    pa.field("language", pa.string()),  # ISO 639-1 code from language identification
    pa.field("language_score", pa.float64()),  # its probability
    pa.field("pii", pa.string()),  # JSON {type: count} of the PII found, whatever was done with it
]
CLEANED = pa.schema([*INGESTED, pa.field("n_words", pa.int64(), nullable=False), *ANNOTATIONS])
DEDUPLICATED = pa.schema([*CLEANED, pa.field("text_hash", pa.string(), nullable=False)])

STATUSES = ("kept", "dropped", "quarantined")

LEDGER = pa.schema(
    [
        pa.field("dataset_id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("raw_sha256", pa.string(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # kept | dropped | quarantined
        pa.field("stage", pa.string(), nullable=False),  # the stage that decided the status
        pa.field("reason", pa.string()),  # snake_case, e.g. near_duplicate; null when kept
        pa.field("detail", pa.string()),  # e.g. the survivor's doc_id, or the error text
        pa.field("similarity", pa.float64()),  # a duplicate's Jaccard similarity to the survivor in detail
        pa.field("parent_doc_id", pa.string()),  # an attachment's e-mail
        *ANNOTATIONS,  # null for documents that did not reach language id / PII redaction
    ]
)
ANNOTATION_COLUMNS = [f.name for f in ANNOTATIONS]

# Ledger rows before the dataset_id is known (written per shard by each stage).
LEDGER_PART = pa.schema([f for f in LEDGER if f.name != "dataset_id"])
