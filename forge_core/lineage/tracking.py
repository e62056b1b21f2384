"""Where MLflow keeps its records: a SQLite store and an artifact folder inside the workspace.

An MLFLOW_TRACKING_URI in the environment wins, so a team can point Forge at its MLflow server.
The experiment's artifact location is set explicitly: left alone, MLflow writes ./mlruns into
whatever folder the command happened to start in.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from forge_core.io.workspace import Workspace
from forge_core.lineage.relocate import relocate_store
from forge_core.section import Section


class RegistryConfig(Section):
    """Where runs and models are recorded in MLflow."""

    experiment: str = Field(default="forge", min_length=1, description="MLflow experiment of `forge run`.")
    model_name: str = Field(default="forge-lm", min_length=1, description="Registered model name.")


class TrackingError(RuntimeError):
    """MLflow cannot be used as configured; the message says what to set."""


def workspace_store(ws: Workspace) -> str:
    return f"sqlite:///{ws.mlflow_dir()}/mlflow.db"


def tracking_uri(ws: Workspace) -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if not ws.is_local:
        raise TrackingError(
            f"workspace {ws.url} is not a local folder, so it cannot hold MLflow's SQLite store; "
            "set MLFLOW_TRACKING_URI to your MLflow server (e.g. http://127.0.0.1:5000)"
        )
    os.makedirs(ws.mlflow_dir(), exist_ok=True)
    relocate_store(ws.root, ws.mlflow_dir())  # a copied or moved workspace reads its own artifacts
    return workspace_store(ws)


def artifact_root(ws: Workspace) -> str | None:
    """The workspace's artifact folder, or None when a tracking server decides where artifacts go.

    Compared by value, not by the variable's presence: mlflow.set_tracking_uri() itself exports
    MLFLOW_TRACKING_URI, so after the first run in a process the variable is always there.
    """
    if not ws.is_local or tracking_uri(ws) != workspace_store(ws):
        return None
    return Path(ws.mlflow_dir(), "artifacts").as_uri()


def use_workspace_tracking(ws: Workspace) -> str:
    """Point this process's MLflow client (tracking and registry) at the workspace's stores."""
    import mlflow

    uri = tracking_uri(ws)
    before = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # MLflow also exports the URI to the environment. Undo that: a later run in this process (or a
    # child process) for another workspace must not mistake it for the user's choice of server.
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return uri


# MLflow 3's UI shows an experiment as GenAI (traces, tokens, cost) or model training (runs,
# metrics, models); the experiment tag below says which (its values are the UI's ExperimentKind).
# The UI bundled with MLflow 3.17 has its workflow-based navigation on, which decides by a sidebar
# switch instead (GenAI until someone flips it) that a link sets with `?workflowType=machine_learning`
# (ML_VIEW): Forge's links into the UI carry it, and the tag serves the UIs that read it.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
ML_VIEW = "workflowType=machine_learning"


def ensure_experiment(ws: Workspace, name: str) -> str:
    """The id of experiment `name`, created with its artifacts under the workspace if it is new.

    Tagged as model training, so MLflow's UI opens it on its runs; an experiment made before the
    tag existed gets it now, and a kind someone chose by hand is left as it is.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if EXPERIMENT_KIND_TAG not in experiment.tags:
            client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return experiment.experiment_id
    root = artifact_root(ws)
    return client.create_experiment(
        name,
        artifact_location=f"{root}/{name}" if root else None,
        tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND},
    )
