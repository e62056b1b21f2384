"""Deduplication that scales with the corpus: per-shard work, Dask shuffles, spilled edges.

1. sign (per shard): text hash, MinHash signature and shingle set of every document (index.py).
2. plan (across shards, plan.py): exact groups by a shuffle on the text hash; near-duplicate
   candidates by a shuffle on LSH band keys, verified against the threshold; connected components
   over the verified edges; one survivor per cluster by the configured rule; the cluster report (clusters.py).
3. apply (per shard): write the shard's survivors.

No process holds every document's text or signature: text is read per shard in step 1 and 3,
signatures and shingles are read back memory-mapped, a few rows per candidate pair.

stage.py runs the three steps; this module holds the stage's settings, which every step reads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from forge_core.section import Section


class DedupConfig(Section):
    """Exact and near-duplicate removal."""

    exact: bool = Field(default=True, description="Drop documents whose normalized text is identical.")
    near: bool = Field(default=True, description="Drop near duplicates found with MinHash LSH.")
    threshold: float = Field(
        default=0.8,
        gt=0.0,
        lt=1.0,
        description="Jaccard similarity at or above which two documents are near duplicates.",
    )
    num_perm: int = Field(default=128, ge=16, le=1024, description="MinHash permutations per signature.")
    recall_weight: float = Field(
        default=0.95,
        gt=0.0,
        lt=1.0,
        description="Weight of missed pairs against extra candidates when datasketch picks bands and rows "
        "(0.95 at 0.8 and 128 permutations: 16 bands of 8 rows). Candidates are verified, so an extra one "
        "costs a comparison and a missed one a duplicate left in the data.",
    )
    shingle_words: int = Field(default=5, ge=1, le=32, description="Words per shingle.")
    seed: int = Field(default=1, description="MinHash seed; changing it changes which pairs are candidates.")
    verify: Literal["exact", "signature"] = Field(
        default="exact",
        description="How a candidate pair is checked against the threshold: the exact Jaccard of the two "
        "documents' shingle sets, or the estimate from their MinHash signatures (faster, noisier).",
    )
    survivor: Literal["earliest", "longest", "first_seen"] = Field(
        default="earliest",
        description="Which document of a duplicate cluster is kept: earliest source (file URI, then row), "
        "longest text, or first seen (the order documents entered the dataset).",
    )
    bucket_pairs: int = Field(
        default=32,
        ge=2,
        description="LSH buckets up to this size propose every pair of their members; a bigger bucket proposes "
        "each member with the next and with the first, so a bucket of thousands costs thousands of checks.",
    )
    report_clusters: int = Field(default=10, ge=0, description="Largest clusters listed in the dedup report.")
