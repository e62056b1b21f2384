"""infra/: the compose stack and the Kubernetes manifests hang together, as far as can be checked
here: no Docker daemon, no cluster, no network. Every YAML file is parsed; `docker compose config`
and `kubectl kustomize` run when they are installed (both read local files only)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from forge_core.config import load_config

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
COMPOSE = INFRA / "compose.yaml"

SERVICES = {
    "postgres",
    "minio",
    "minio-init",
    "prefect-server",
    "mlflow-server",
    "dask-scheduler",
    "dask-worker",
    "forge-worker",
}
# What Forge's LocalCluster gives its workers (forge_core/executor/cluster.py); a cluster's workers need the same.
MALLOC = {"MALLOC_TRIM_THRESHOLD_": str(64 << 20), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}
# ${VAR}, ${VAR:-default}, ${VAR:?error}; $${...} is a literal dollar for the container's shell.
INTERPOLATION = re.compile(r"(?<!\$)\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def defaults(text: str) -> str:
    """A compose value with each ${VAR:-default} replaced by its default."""
    return INTERPOLATION.sub(lambda m: m.group(3) if m.group(2) in ("-", ":-") else m.group(0), text)


def is_pinned(image: str) -> bool:
    """A tag that names a release (or a digest): not a bare name and not `latest`."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def run(cmd: list[str], timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml" for doc in documents(path)]


def pod_specs(doc: dict) -> list[dict]:
    """The pod specs a manifest runs: a workload's template, or a DaskCluster's scheduler and workers."""
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [doc["spec"]["template"]["spec"]]
    if doc["kind"] == "DaskCluster":
        return [doc["spec"]["scheduler"]["spec"], doc["spec"]["worker"]["spec"]]
    return []


def containers(docs: list[dict]) -> list[tuple[str, dict]]:
    return [
        (f"{doc['kind']}/{doc['metadata']['name']}/{c['name']}", c)
        for doc in docs
        for spec in pod_specs(doc)
        for c in spec.get("initContainers", []) + spec["containers"]
    ]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


# ---- every file -------------------------------------------------------------------------------


def test_every_yaml_file_in_infra_parses():
    paths = sorted([*INFRA.rglob("*.yaml"), *INFRA.rglob("*.yml")])
    assert COMPOSE in paths and K8S / "kustomization.yaml" in paths
    for path in paths:
        assert documents(path), f"{path} holds no YAML document"


# ---- Docker Compose ---------------------------------------------------------------------------


def test_compose_runs_the_whole_stack(compose):
    assert "version" not in compose, "the Compose spec has no `version:`; docker compose warns about it"
    assert set(compose["services"]) >= SERVICES


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "no":  # a one-shot job: it exits when done
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test != ["NONE"], f"service {name} has no healthcheck"


def test_published_ports_bind_loopback_only(compose):
    published = []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                ok = port.get("host_ip") == "127.0.0.1"
            else:
                ok = str(port).startswith("127.0.0.1:") and str(port).count(":") == 2
            assert ok, f"service {name} publishes {port!r} beyond 127.0.0.1"
            published.append(str(port))
    for port in ("4200", "5000", "8787", "9000", "9001"):  # Prefect, MLflow, Dask dashboard, MinIO
        assert any(p.split(":")[1] == port for p in published), f"port {port} is not published"


def test_services_start_after_what_they_need(compose):
    services = compose["services"]
    for name, service in services.items():
        needs = service.get("depends_on", {})
        assert isinstance(needs, dict), f"service {name}: depends_on without conditions starts too early"
        for dep, how in needs.items():
            assert dep in services, f"service {name} depends on unknown service {dep}"
            condition = how["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), (name, dep, condition)
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; it has no healthcheck"
            else:
                assert services[dep].get("restart") == "no", f"{name} waits for {dep} to exit; it restarts"
    for server in ("prefect-server", "mlflow-server"):
        assert services[server]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_volumes_are_named_and_bind_mounts_exist(compose):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (INFRA / source).exists(), f"service {name} mounts {source}, which is not in infra/"
            else:
                assert source in declared, f"service {name} uses volume {source}, not declared under volumes:"
                used.add(source)
    assert {"postgres-data", "minio-data"} <= used
    assert used == declared, f"declared but unused: {declared - used}"


def test_every_image_is_pinned(compose, manifests):
    images = {name: defaults(s["image"]) for name, s in compose["services"].items()}
    images |= {where: c["image"] for where, c in containers(manifests)}
    for where, image in images.items():
        assert is_pinned(image), f"{where}: image {image!r} has no release tag"
    dockerfile = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", dockerfile, re.M).group(1)
    assert base.startswith("python:3.11") and is_pinned(base)


def test_every_python_service_runs_the_forge_image(compose):
    forge = {n for n, s in compose["services"].items() if "build" in s}
    assert forge == {"prefect-server", "mlflow-server", "dask-scheduler", "dask-worker", "forge-worker"}
    for name in forge:
        service = compose["services"][name]
        assert service["build"]["dockerfile"] == "infra/Dockerfile"
        assert (INFRA / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert defaults(service["image"]) == "forge:0.1.0"


def test_servers_run_as_the_issue_describes(compose):
    s = compose["services"]
    prefect = s["prefect-server"]
    assert prefect["command"].startswith("prefect server start --host 0.0.0.0")
    assert prefect["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert prefect["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].endswith("@postgres:5432/prefect")
    assert prefect["environment"]["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert prefect["environment"]["DO_NOT_TRACK"] == "true"
    assert "/api/health" in " ".join(prefect["healthcheck"]["test"])

    mlflow = s["mlflow-server"]
    command = mlflow["command"].split()
    assert command[:4] == ["mlflow", "server", "--app-name", "basic-auth"]
    assert command[command.index("--backend-store-uri") + 1].endswith("@postgres:5432/mlflow")
    assert command[command.index("--artifacts-destination") + 1] == "s3://mlflow-artifacts"
    assert "--serve-artifacts" in command
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert mlflow["environment"]["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert "/health" in " ".join(mlflow["healthcheck"]["test"])
    # The auth store sits in its own database, in the file MLFLOW_AUTH_CONFIG_PATH names.
    auth = compose["configs"][mlflow["configs"][0]["source"]]["content"]
    assert mlflow["configs"][0]["target"] == mlflow["environment"]["MLFLOW_AUTH_CONFIG_PATH"]
    assert re.search(r"^database_uri = postgresql://.*@postgres:5432/mlflow_auth$", auth, re.M)


def test_dask_workers_import_forge_and_get_forges_malloc_settings(compose):
    scheduler, worker = compose["services"]["dask-scheduler"], compose["services"]["dask-worker"]
    assert scheduler["command"].split()[:2] == ["dask", "scheduler"]
    command = worker["command"].split()
    assert command[:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    assert command[command.index("--nthreads") + 1] == "1"
    assert "--memory-limit" in command
    assert {k: worker["environment"][k] for k in MALLOC} == MALLOC
    assert worker["deploy"]["replicas"] >= 1


def test_the_forge_worker_reaches_every_server(compose):
    worker = compose["services"]["forge-worker"]
    assert worker["command"] == "forge worker --pool forge"
    env = worker["environment"]
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow-server:5000"
    assert {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "AWS_ACCESS_KEY_ID"} <= set(env)
    assert env["AWS_ENDPOINT_URL"] == env["FSSPEC_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert "./forge.yaml:/etc/forge/forge.yaml:ro" in worker["volumes"]


def test_minio_init_creates_the_buckets_forge_uses(compose):
    script = " ".join(compose["services"]["minio-init"]["command"])
    created = set(re.findall(r"local/([a-z0-9-]+)", script))
    assert {"forge-workspace", "mlflow-artifacts"} <= created
    assert load_config(INFRA / "forge.yaml").workspace.removeprefix("s3://").strip("/") in created


def test_env_example_sets_every_variable_and_holds_no_secret(compose):
    text = COMPOSE.read_text(encoding="utf-8")
    example = dict(
        line.split("=", 1)
        for line in (INFRA / ".env.example").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    for var, op, _ in INTERPOLATION.findall(text):
        assert var in example or op in ("-", ":-"), f"compose.yaml needs ${var}; .env.example does not set it"
    for key, value in example.items():
        if re.search(r"PASSWORD|SECRET", key):
            assert value == "change-me", f".env.example: {key} must be the placeholder change-me"


def test_forge_yaml_loads_with_forges_own_loader():
    cfg = load_config(INFRA / "forge.yaml")
    assert cfg.dask.address == "tcp://dask-scheduler:8786"
    assert cfg.workspace == "s3://forge-workspace/"


def test_postgres_init_creates_every_database_the_servers_use(compose):
    sql = (INFRA / "postgres" / "init.sql").read_text(encoding="utf-8")
    created = set(re.findall(r"^CREATE DATABASE (\w+);", sql, re.M))
    text = COMPOSE.read_text(encoding="utf-8")
    used = set(re.findall(r"@postgres:5432/(\w+)", text))
    assert used == created == {"prefect", "mlflow", "mlflow_auth"}


def test_docker_compose_config_accepts_the_file():
    docker = shutil.which("docker")
    if docker is None or run([docker, "compose", "version"]).returncode != 0:
        pytest.skip("the docker compose plugin is not installed here")
    result = run([docker, "compose", "-f", str(COMPOSE), "--env-file", str(INFRA / ".env.example"), "config", "-q"])
    assert result.returncode == 0, result.stderr


# ---- Kubernetes -------------------------------------------------------------------------------


def test_every_manifest_names_itself(manifests):
    for doc in manifests:
        assert doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name"), doc


def test_kustomization_lists_every_manifest_and_nothing_else():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in K8S.iterdir() if p.suffix in (".yaml", ".yml")} - {"kustomization.yaml"}
    listed = set(kustomization["resources"])
    assert not files - listed, f"kustomization.yaml does not list {sorted(files - listed)}"
    assert not listed - files, f"kustomization.yaml lists missing files {sorted(listed - files)}"
    assert kustomization["namespace"] == "forge"


def test_the_stack_is_all_there(manifests):
    kinds = {(d["kind"], d["metadata"]["name"]) for d in manifests}
    assert {
        ("Namespace", "forge"),
        ("StatefulSet", "postgres"),
        ("Service", "postgres"),
        ("Deployment", "prefect-server"),
        ("Service", "prefect-server"),
        ("Deployment", "mlflow-server"),
        ("Service", "mlflow-server"),
        ("Deployment", "forge-worker"),
        ("DaskCluster", "forge-dask"),
        ("ConfigMap", "forge-config"),
    } <= kinds
    postgres = next(d for d in manifests if d["kind"] == "StatefulSet")
    assert postgres["spec"]["volumeClaimTemplates"], "PostgreSQL keeps its data on a PersistentVolumeClaim"


def test_every_container_has_requests_and_limits(manifests):
    found = containers(manifests)
    assert len(found) >= 6
    for where, container in found:
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind) or {}), f"{where}: no {kind} for cpu and memory"


def test_every_server_has_readiness_and_liveness_probes(manifests):
    selectors = [d["spec"]["selector"] for d in manifests if d["kind"] == "Service"]
    servers = [
        d
        for d in manifests
        if d["kind"] in ("Deployment", "StatefulSet")
        and any(s.items() <= d["spec"]["template"]["metadata"]["labels"].items() for s in selectors)
    ]
    assert {d["metadata"]["name"] for d in servers} == {"postgres", "prefect-server", "mlflow-server"}
    dask = next(d for d in manifests if d["kind"] == "DaskCluster")
    scheduler = ("DaskCluster scheduler", dask["spec"]["scheduler"]["spec"]["containers"][0])
    for where, container in [*containers(servers), scheduler]:
        assert "readinessProbe" in container and "livenessProbe" in container, f"{where} has no probes"


def test_secrets_are_templates_and_every_reference_resolves(manifests):
    secrets = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Secret"}
    configmaps = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "ConfigMap"}
    for name, secret in secrets.items():
        assert "data" not in secret, f"Secret {name}: templates use stringData, readable placeholders"
        for key, value in secret["stringData"].items():
            if re.search(r"PASSWORD|SECRET|KEY", key):
                assert "change-me" in value, f"Secret {name}: {key} must be a change-me placeholder"
    for where, container in containers(manifests):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secrets[ref["name"]]["stringData"], f"{where}: {ref} does not exist"
    for doc in manifests:
        for spec in pod_specs(doc):
            for volume in spec.get("volumes", []):
                if "configMap" in volume:
                    assert volume["configMap"]["name"] in configmaps, volume


def test_the_forge_worker_and_the_dask_cluster_match_compose(manifests):
    worker = next(c for w, c in containers(manifests) if w == "Deployment/forge-worker/forge-worker")
    assert worker["args"] == ["forge", "worker", "--pool", "forge"]
    env = env_of(worker)
    assert env["PREFECT_API_URL"]["value"] == "http://prefect-server:4200/api"
    assert env["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow-server:5000"
    assert {
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "AWS_ENDPOINT_URL",
        "FSSPEC_S3_ENDPOINT_URL",
    } <= set(env)

    dask = next(d for d in manifests if d["kind"] == "DaskCluster")
    assert dask["apiVersion"] == "kubernetes.dask.org/v1"
    scheduler = dask["spec"]["scheduler"]["spec"]["containers"][0]
    workers = dask["spec"]["worker"]["spec"]["containers"][0]
    assert scheduler["image"] == workers["image"] == worker["image"]
    assert scheduler["args"][:2] == ["dask", "scheduler"] and workers["args"][:2] == ["dask", "worker"]
    assert {k: env_of(workers)[k]["value"] for k in MALLOC} == MALLOC
    assert dask["spec"]["scheduler"]["service"]["selector"]["dask.org/cluster-name"] == dask["metadata"]["name"]


def test_the_k8s_configmaps_match_the_files_they_copy(manifests, tmp_path):
    configmaps = {d["metadata"]["name"]: d["data"] for d in manifests if d["kind"] == "ConfigMap"}
    (tmp_path / "forge.yaml").write_text(configmaps["forge-config"]["forge.yaml"], encoding="utf-8")
    cfg = load_config(tmp_path / "forge.yaml")
    dask = next(d for d in manifests if d["kind"] == "DaskCluster")
    # The operator names the scheduler's Service <cluster>-scheduler.
    assert cfg.dask.address == f"tcp://{dask['metadata']['name']}-scheduler:8786"
    assert cfg.workspace == load_config(INFRA / "forge.yaml").workspace

    def statements(sql: str) -> list[str]:
        return [line for line in sql.splitlines() if line.strip() and not line.startswith("--")]

    sql = (INFRA / "postgres" / "init.sql").read_text(encoding="utf-8")
    assert statements(configmaps["postgres-init"]["init.sql"]) == statements(sql)


def test_kubectl_kustomize_renders_the_stack():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed here")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": os.devnull},  # rendering needs no cluster
    )
    assert result.returncode == 0, result.stderr
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert len(rendered) == sum(len(documents(p)) for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "forge", doc["metadata"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "forge"


# ---- SLURM ------------------------------------------------------------------------------------


def test_the_sbatch_script_is_valid_bash_and_trains_on_every_node():
    script = INFRA / "slurm" / "train.sbatch"
    result = run(["bash", "-n", str(script)])
    assert result.returncode == 0, result.stderr
    # The srun command with its continuation lines joined.
    command = re.search(r"^srun forge train (?:.*\\\n)*.*$", script.read_text(encoding="utf-8"), re.M)
    assert command, "train.sbatch does not run `srun forge train`"
    assert "--num-nodes" in command.group(0)
