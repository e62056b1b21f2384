"""curate: a folder of raw documents becomes a validated, deduplicated dataset version."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from prefect import flow, get_run_logger

from forge_core.config import ForgeConfig
from forge_core.executor import DaskConfig, open_cluster
from forge_core.identity import dataset_id as name_dataset
from forge_core.ingest import dataset_kind, require_documents
from forge_core.io.workspace import Workspace
from forge_core.timing import Phases
from forge_core.validate import GateShard, suites_digest
from tasks.artifacts import describe_cluster
from tasks.clean import clean_documents
from tasks.dedup import deduplicate_documents
from tasks.ingest import ingest_documents
from tasks.publish import publish_dataset_version
from tasks.sources import discover_sources, fingerprint_sources
from tasks.validate import validate_documents


def _shards(reports) -> list[GateShard]:
    return [GateShard(r.docs_path, r.n_kept, r.folder) for r in reports]


@flow(name="curate", log_prints=True)
def curate(
    sources: list[str],
    config: ForgeConfig | None = None,
    cluster: str | None = None,
    base_tokenizer_sha256: str | None = None,
) -> dict[str, Any]:
    """Ingest, clean, deduplicate and validate SOURCES into a dataset version named by its inputs.

    cluster: the scheduler address of a Dask cluster already open for this run (`forge run`
    passes its own, so one run starts one cluster); otherwise config.dask says where to work.
    base_tokenizer_sha256: with train.base, the base's tokenizer (part of the dataset_id); `forge
    run` passes it, and a curate run on its own looks the base up in the workspace's registry.
    """
    start = time.perf_counter()
    phases = Phases.since_process_start()
    cfg = config or ForgeConfig()
    ws = Workspace(cfg.workspace)
    log = get_run_logger()
    if cfg.train.base and base_tokenizer_sha256 is None:
        from forge_core.interop.bases import resolve_base
        from forge_core.lineage.tracking import use_workspace_tracking

        use_workspace_tracking(ws)
        base_tokenizer_sha256 = resolve_base(cfg.train.base)["tokenizer_sha256"]

    with phases.timed("discovery"):
        files = discover_sources(sources)
    with ExitStack() as held:  # the dataset's lock, then its clean-up on failure, until it is published
        with ExitStack() as working:  # the cluster, closed before publishing (which needs the memory)
            with phases.timed("cluster start"):
                client = working.enter_context(
                    open_cluster(cfg.dask if cluster is None else DaskConfig(address=cluster))
                )
            describe_cluster(client)
            with phases.timed("fingerprint"):
                prints = fingerprint_sources(client, files)
            dataset_id = name_dataset(
                [(p.uri, p.raw_sha256 or "") for p in prints],
                cfg.data_settings(base_tokenizer_sha256),
                suites_digest(cfg.validation),
            )
            # One run per dataset at a time: a second run of the same inputs waits, then reuses the result.
            with phases.timed("waiting for another run"):
                held.enter_context(ws.lock(f"dataset-{dataset_id}", on_wait=lambda: announce_wait(dataset_id)))
            manifest = f"{ws.dataset_dir(dataset_id)}/manifest.json"
            if ws.exists(manifest):
                log.info("dataset %s is already complete; reusing it", dataset_id)
                return ws.read_json(manifest) | {"reused": True, "seconds": round(time.perf_counter() - start, 2)}
            log.info("curating %d files into dataset %s", len(files), dataset_id)
            held.enter_context(failure_recorded(ws, dataset_id))
            with phases.timed("ingest"):
                ingested, ingest_stats = ingest_documents(ws, cfg, client, prints)
            require_documents(sources, ingest_stats["counts"])
            log.info("dataset kind: %s", dataset_kind(cfg.ingest.kind, ingest_stats["counts"]))  # a mix stops here
            with phases.timed("gate ingested"):
                validated = {
                    "ingested": validate_documents(
                        ws, client, "ingested", _shards(ingested), cfg.validation, dataset_id
                    )
                }
            with phases.timed("clean"):
                cleaned, clean_stats = clean_documents(ws, cfg, client, ingested)
            with phases.timed("gate cleaned"):
                validated["cleaned"] = validate_documents(
                    ws, client, "cleaned", _shards(cleaned), cfg.validation, dataset_id, pii=cfg.clean.pii
                )
            with phases.timed("dedup"):
                deduped, plan, dedup_stats = deduplicate_documents(ws, cfg, client, cleaned, dataset_id)
            final = [GateShard(ws.dataset_shard(dataset_id, r.index), r.n_kept, r.folder) for r in deduped]
            with phases.timed("gate deduplicated"):
                validated["deduplicated"] = validate_documents(
                    ws, client, "deduplicated", final, cfg.validation, dataset_id
                )
        phases.since_last("cluster stop")
        summary = publish_dataset_version(
            ws,
            cfg,
            dataset_id,
            sources,
            len(files),
            parts={"ingest": ingested, "clean": cleaned, "plan": [plan], "dedup": deduped},
            stages={"ingest": ingest_stats, "clean": clean_stats, "dedup": dedup_stats},
            validation={stage: (v["success"] if v else None) for stage, v in validated.items()},
            phases=phases,
        )
    return summary | {"reused": False, "seconds": round(time.perf_counter() - start, 2), "phases": phases.seconds}


def announce_wait(dataset_id: str) -> None:
    message = f"another run is curating the same inputs into this workspace (dataset {dataset_id}); waiting for it"
    get_run_logger().info(message)
    sys.stderr.write(f"{message}\n")  # to the terminal, not through print (log_prints sends that to the log)


@contextmanager
def failure_recorded(ws: Workspace, dataset_id: str) -> Iterator[None]:
    """A run that fails leaves no half-written dataset: its folder keeps only validation/ (the record
    of a gate that failed) and failed.json (the error), which `forge dataset list` shows. The stage
    caches stay: they are complete shards keyed by their inputs, and a rerun resumes from them."""
    folder = ws.dataset_dir(dataset_id)
    if ws.exists(f"{folder}/failed.json"):
        ws.fs.rm(f"{folder}/failed.json")
    try:
        yield
    except BaseException as e:
        if not ws.exists(f"{folder}/manifest.json") and ws.exists(folder):
            for entry in ws.fs.ls(folder, detail=False):
                if entry.rstrip("/").rsplit("/", 1)[-1] != "validation":
                    ws.fs.rm(entry, recursive=True)
            error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            ws.write_json(f"{folder}/failed.json", {"error": error, "type": type(e).__name__})
        raise
