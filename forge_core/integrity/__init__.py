"""Records that show tampering: the digests a dataset version and a model version record of their
files (digests.py), the hash-chained journal of publish, register and erase events (journal.py),
and the offline check that recomputes both (verify.py)."""
