"""Forge: a company's own language model from its own documents, with lineage an auditor can follow.

forge_core is the library: plain functions over shards and config models. It imports no orchestrator
(nor the flows, tasks or shell above it), so it can be tested and reused without an orchestrator.
"""

from forge_core.airgap import disable_telemetry

__version__ = "0.1.0"

# Switched off here, on import, so no entry point (CLI, flow, Dask worker, a user's notebook)
# can reach a telemetry endpoint before Forge had its say.
disable_telemetry()
