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
]

INGESTED = pa.schema([*PROVENANCE, pa.field("text", pa.large_string(), nullable=False)])
CLEANED = pa.schema([*INGESTED, pa.field("n_words", pa.int64(), nullable=False)])
DEDUPLICATED = pa.schema([*CLEANED, pa.field("text_hash", pa.string(), nullable=False)])

STAGE_SCHEMAS = {"ingested": INGESTED, "cleaned": CLEANED, "deduplicated": DEDUPLICATED}

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
    ]
)

# Ledger rows before the dataset_id is known (written per shard by each stage).
LEDGER_PART = pa.schema([f for f in LEDGER if f.name != "dataset_id"])
