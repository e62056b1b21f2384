"""Lineage: what MLflow records about each run, and the queries that read it back (`forge lineage`)."""
