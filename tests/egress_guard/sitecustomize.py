"""Imported by every Python process the test suite starts (it is on PYTHONPATH): Dask workers,
Prefect's ephemeral server, `forge` run as a subprocess. It records and refuses any connection
or name lookup that would leave the machine, so the suite proves Forge stays air-gapped."""

import os

if os.environ.get("FORGE_EGRESS_LOG"):
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from egress import install  # noqa: E402  (tests/egress.py)

    install()
