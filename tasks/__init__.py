"""Prefect tasks: thin wrappers, one per stage, that map forge_core functions over shards on Dask
and publish what each stage kept and dropped as a Prefect artifact."""
