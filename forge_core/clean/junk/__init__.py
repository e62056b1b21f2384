"""Junk that is junk in any company, whatever its language: one module per kind, each a step of
the enterprise profile with its own reason and thresholds (clean/pipeline.py lists them).

None of these rules consults language identification: junk has no language, and a rule gated on
"is this English?" lets through exactly the junk that identifies as nothing. Each measures a
property of the characters, tokens or lines that genuine text of any language lacks. The
thresholds were set on the labelled set in benchmarks/curation_quality/ (real genuine documents
and real junk; BENCHMARKS.md has the figures), and each field's description says so.
"""
