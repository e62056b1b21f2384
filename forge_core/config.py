"""The whole run's configuration, assembled from each component's own config model.

Each stage's config lives next to its code (the cleaning rules in clean/, dedup's in dedup/, the
cluster's in executor/); this module only puts them together as ForgeConfig, loads YAML and
writes `forge init`'s file. Unknown keys are errors (a typo such as `min_wrods` must not silently
fall back to a default), and every error names the key path and the file it came from.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError

from forge_core.chat.finetune_recipe import FinetuneConfig
from forge_core.clean.pipeline import CleanConfig
from forge_core.compliance import ComplianceConfig
from forge_core.dedup import DedupConfig
from forge_core.executor.cluster import DaskConfig
from forge_core.ingest import IngestConfig
from forge_core.lineage.tracking import RegistryConfig
from forge_core.section import Section
from forge_core.tokenize import TokenizeConfig
from forge_core.train.recipe import EvalConfig, TrainConfig
from forge_core.validate import ValidationConfig


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


class ServerConfig(Section):
    """`forge server`: a team's Prefect server and MLflow tracking server, on PostgreSQL."""

    host: str = Field(
        default="127.0.0.1",
        description="Address both servers listen on; one beyond loopback only when given as --host.",
    )
    prefect_port: int = Field(default=4200, gt=0, lt=65536, description="Port of the Prefect API and UI.")
    mlflow_port: int = Field(default=5000, gt=0, lt=65536, description="Port of the MLflow tracking server and UI.")
    # Secrets: a URL's password never reaches a log, a flow parameter or a config artifact, where
    # the whole config is written (SecretStr dumps as '**********'). Better kept in the environment.
    prefect_database_url: SecretStr | None = Field(
        default=None,
        description="Prefect's database, postgresql+asyncpg://USER:PASSWORD@HOST:5432/prefect; "
        "env FORGE_PREFECT_DATABASE_URL wins.",
    )
    mlflow_database_url: SecretStr | None = Field(
        default=None,
        description="MLflow's runs and model registry, postgresql://USER:PASSWORD@HOST:5432/mlflow; "
        "env FORGE_MLFLOW_DATABASE_URL wins.",
    )
    mlflow_auth_database_url: SecretStr | None = Field(
        default=None,
        description="MLflow's users and permissions; empty = SQLite in <workspace>/server/; "
        "env FORGE_MLFLOW_AUTH_DATABASE_URL wins.",
    )
    artifacts_destination: str | None = Field(
        default=None,
        description="Where the MLflow server stores the artifacts it proxies (folder or s3://bucket/path); "
        "empty = <workspace>/mlflow-artifacts.",
    )
    mlflow_auth: bool = Field(
        default=True, description="MLflow sign-in (basic auth); the admin's password from FORGE_MLFLOW_ADMIN_PASSWORD."
    )
    mlflow_admin_username: str = Field(default="admin", min_length=1, description="MLflow's admin user.")
    mlflow_default_permission: Literal["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"] = Field(
        default="READ", description="What every signed-in MLflow user may do with experiments and models not theirs."
    )
    mlflow_workers: int = Field(default=2, gt=0, description="MLflow server worker processes.")


class ForgeConfig(Section):
    """A whole Forge run."""

    workspace: str = Field(default="./forge-workspace", description="Folder or fsspec URL where a run writes.")
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    compliance: ComplianceConfig = Field(default_factory=ComplianceConfig)
    dask: DaskConfig = Field(default_factory=DaskConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    def data_settings(self, base_tokenizer_sha256: str | None = None) -> dict[str, Any]:
        """The settings that change what a dataset version contains (not where or how fast it runs).

        The tokenizer is part of the version: its tokenizer.json and token files live in it. With
        train.base, that is the base's tokenizer, named by the sha256 of its tokenizer.json.
        """
        settings = self.model_dump(include={"ingest", "clean", "dedup", "validation", "tokenize"}, mode="json")
        if base_tokenizer_sha256:
            settings["tokenize"] = {"base_tokenizer_sha256": base_tokenizer_sha256}
        return settings


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            lines.append(f"  {key}: unknown key (check the spelling; `forge init` writes every valid key)")
        else:
            lines.append(f"  {key}: {e['msg']} (got {json.dumps(e.get('input'), default=str)})")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, **overrides: Any) -> ForgeConfig:
    """Defaults, then the YAML file if given, then explicit overrides (e.g. --workspace)."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{path}: cannot read config file ({e.strerror})") from e
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(loaded).__name__}")
        data = loaded
    for key, value in overrides.items():
        if value is not None:
            data[key] = value
    try:
        return ForgeConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source)) from None


def _yaml_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def _emit(model: type[BaseModel], values: BaseModel, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for name, field in model.model_fields.items():
        value = getattr(values, name)
        if isinstance(value, BaseModel) or dataclasses.is_dataclass(value):
            # The title is the docstring's first paragraph (it may wrap); then where the numbers come from.
            doc = " ".join(textwrap.dedent(type(value).__doc__ or "").strip().split("\n\n")[0].split())
            out.append("")
            out.append(f"{pad}# {doc}")
            if numbers := getattr(value, "NUMBERS", None):
                out.append(f"{pad}# Numbers: {numbers}")
            out.append(f"{pad}{name}:")
            if isinstance(value, BaseModel):
                _emit(type(value), value, indent + 1, out)
            else:
                for f in dataclasses.fields(value):
                    out.append(f"{pad}  # {f.metadata['help']}")
                    out.append(f"{pad}  {f.name}: {_yaml_value(getattr(value, f.name))}")
        else:
            if field.description:
                out.append(f"{pad}# {field.description}")
            out.append(f"{pad}{name}: {_yaml_value(value)}")


def default_config_yaml() -> str:
    """A commented YAML file holding every key with its default, generated from the models."""
    out = [
        "# Forge configuration. Every key is optional; shown here with its default.",
        "# Use it with: forge run SOURCE... --config forge.yaml (or forge curate, which stops at the dataset)",
        "# 'Numbers:' says where a section's thresholds come from; the 'labelled set' is Forge's curation benchmark",
        "# (benchmarks/curation_quality: 1,510 genuine documents and 377 junk, results in BENCHMARKS.md).",
    ]
    _emit(ForgeConfig, ForgeConfig(), 0, out)
    return "\n".join(out) + "\n"
