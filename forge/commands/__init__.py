"""The commands of `forge`, in groups: datasets, lineage, models, operations (forge/cli.py merges them)."""
