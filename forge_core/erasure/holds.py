"""Registered model versions trained on an erased document are held: tagged `erasure_pending` with
the request id, and stripped of their aliases, so nothing serves them by alias (`@candidate`,
`@production`) until a successor trained without the document replaces them."""

from __future__ import annotations

from typing import Any

from mlflow.tracking import MlflowClient

from forge_core.lineage.queries import reached

TAG = "erasure_pending"


def hold(kept_in: set[str], request_id: str) -> list[dict[str, Any]]:
    """Every version trained on one of `kept_in` (and fine-tuned from one), held; what was done."""
    client = MlflowClient()
    held = []
    for version in reached(kept_in):
        client.set_model_version_tag(version["name"], version["version"], TAG, request_id)
        for alias in version["aliases"]:
            client.delete_registered_model_alias(version["name"], alias)
        held.append({**version, "aliases_removed": version["aliases"]})
    return held
