"""Forge runs air-gapped by default: nothing it uses may phone home.

Prefect, MLflow and Great Expectations each ship usage telemetry that is on unless switched off
through the environment. Forge switches it off itself, before any of them is imported, so a user
who forgot (or never knew) is still covered. setdefault is deliberately *not* used: a user's
environment saying DO_NOT_TRACK=false must not re-enable telemetry inside Forge.
"""

from __future__ import annotations

import ipaddress
import os

TELEMETRY_OFF = {
    # Prefect client and server analytics.
    "DO_NOT_TRACK": "true",  # also read by MLflow, which accepts only the string "true"
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # MLflow usage telemetry.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # Not telemetry, but noise: MLflow draws a progress bar for every local artifact copy.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # Great Expectations (posthog) analytics.
    "GX_ANALYTICS_ENABLED": "false",
    # Libraries that would otherwise try to reach the Hugging Face hub.
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def disable_telemetry() -> None:
    """Force every known telemetry switch off in this process and the ones it starts."""
    os.environ.update(TELEMETRY_OFF)


def is_loopback(host: str) -> bool:
    """True for addresses that never leave the machine: 127.0.0.0/8, ::1 and 'localhost'."""
    if host in ("localhost", "localhost.localdomain", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
