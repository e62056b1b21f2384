"""The curate flow end to end on a corpus each test writes: what a data engineer relies on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from dask_procs import external_cluster
from documents import docx_bytes, eml_bytes, pdf_bytes, write
from flow_runs import WEB_RULES_OFF, kept_text, ledger, run_curate, uri

from forge_core.catalog import list_datasets
from forge_core.io.workspace import Workspace
from forge_core.validate import BUILTIN_SUITES, ValidationFailed

WORDS = (
    "the quarterly calibration of pressure sensors requires a signed record from the line engineer and a copy "
    "of the reference gauge certificate before any unit leaves the Leeds plant for the customer"
).split()


def prose(seed: int, n: int = 120) -> str:
    import random

    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + (str(rng.randint(0, 9)) if rng.random() < 0.3 else "") for _ in range(n))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write(root / "a_policy.txt", prose(1))
    write(
        root / "notes" / "b_notes.md", "# Notes\n\n" + prose(2) + "\nCall Ana on +44 20 7946 0958 or ana@example.com."
    )
    write(
        root / "notes" / "b_notes_copy.md",
        "# NOTES\n\n" + prose(2).upper() + "\nCall Ana on +44 20 7946 0958 or ana@example.com.",
    )
    write(root / "c_report.pdf", pdf_bytes([prose(3, 60), prose(4, 60)]))
    write(root / "d_spec.docx", docx_bytes([prose(5)], table=[["part", "qty"], ["NW-1", "4"]]))
    write(root / "mail" / "e.eml", eml_bytes("Calibration due", prose(6)))
    write(root / "tickets.csv", "id,body\n" + "".join(f'{i},"{prose(10 + i)}"\n' for i in range(5)) + '6,"too short"\n')
    rows = [json.dumps({"text": prose(20 + i)}) for i in range(3)] + ["{broken", json.dumps({"text": prose(20)})]
    write(root / "kb.jsonl", "\n".join(rows) + "\n")
    write(root / "broken.pdf", pdf_bytes([prose(7)])[:200])
    write(root / "legacy.txt", "Ça coûte très cher".encode("latin-1"))
    write(root / "scan.tiff", b"II*\x00 not a document forge reads")
    return root


@pytest.fixture(scope="module")
def result(corpus, tmp_path_factory) -> dict:
    return run_curate([corpus], tmp_path_factory.mktemp("ws"), clean=WEB_RULES_OFF)


def test_every_file_and_row_is_accounted_for(result):
    led = ledger(result)
    counts = result["counts"]
    # 11 files; tickets.csv holds 6 rows and kb.jsonl 5 records
    assert counts["ingested"] == led.height == 9 + 6 + 5
    assert counts["ingested"] == counts["kept"] + counts["dropped"] + counts["quarantined"]
    assert led["doc_id"].is_unique().all()
    assert set(led["status"]) == {"kept", "dropped", "quarantined"}
    assert led.filter(pl.col("status") != "kept")["reason"].null_count() == 0


def test_unreadable_inputs_are_quarantined_with_reasons(result, corpus):
    q = {r["source_uri"]: r for r in ledger(result).filter(pl.col("status") == "quarantined").to_dicts()}
    assert q[uri(corpus / "broken.pdf")]["reason"] == "unreadable_pdf"
    assert "truncated" in q[uri(corpus / "broken.pdf")]["detail"]
    assert q[uri(corpus / "scan.tiff")]["reason"] == "unsupported_format"
    assert q[uri(corpus / "kb.jsonl", 4)]["reason"] == "invalid_json_line"
    assert len(q) == 3


def test_legacy_encodings_are_decoded_not_quarantined(result, corpus):
    legacy = ledger(result).filter(pl.col("source_uri") == uri(corpus / "legacy.txt")).to_dicts()[0]
    assert (legacy["status"], legacy["reason"]) == ("dropped", "too_short")  # read as cp1252: four words


def test_duplicates_name_their_survivor(result, corpus):
    led = ledger(result)
    by_uri = {r["source_uri"]: r for r in led.to_dicts()}
    copy = by_uri[uri(corpus / "notes" / "b_notes_copy.md")]
    assert (copy["status"], copy["reason"]) == ("dropped", "exact_duplicate")
    assert copy["detail"] == by_uri[uri(corpus / "notes" / "b_notes.md")]["doc_id"]
    repeated_row = by_uri[uri(corpus / "kb.jsonl", 5)]
    assert repeated_row["reason"] == "exact_duplicate"
    assert repeated_row["detail"] == by_uri[uri(corpus / "kb.jsonl", 1)]["doc_id"]
    short = by_uri[uri(corpus / "tickets.csv", 6)]
    assert short["reason"] == "too_short"


def test_kept_text_is_clean_and_redacted(result):
    text = "\n".join(kept_text(result)["text"])
    assert "ana@example.com" not in text and "7946 0958" not in text
    assert "<EMAIL>" in text and "<PHONE>" in text
    assert "NW-1 | 4" in text  # the Word table survived extraction


def test_dataset_version_holds_its_records(result):
    folder = Path(result["dataset"])
    for name in ("ledger.parquet", "stats.json", "config.yaml", "manifest.json"):
        assert (folder / name).is_file(), name
    for stage in ("ingested", "cleaned", "deduplicated"):
        saved = json.loads((folder / "validation" / f"{stage}.json").read_text())
        assert saved["success"] and saved["view"] == "all rows"
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["stages"]["clean"]["counts"]["pii.found.email"] == 2
    assert stats["counts"]["kept"] == result["counts"]["kept"]


def test_the_gates_check_columns_the_workers_computed(result):
    """No gate re-reads the text: each stage's workers wrote the columns its suite checks beside
    each shard (the residual-PII column after cleaning), and the gate validated those."""
    ws = Path(result["dataset"]).parent.parent
    folders = {"ingested": ws / "cache" / "ingest", "cleaned": ws / "cache" / "clean"}
    folders["deduplicated"] = Path(result["dataset"]) / "work" / "dedup" / "apply"
    for stage, root in folders.items():
        saved = json.loads((Path(result["dataset"]) / "validation" / f"{stage}.json").read_text())
        assert saved["read_text_for"] == [], stage
        files = sorted(root.rglob("gate-*.parquet"))
        assert files, stage
        columns = pl.read_parquet(files[0]).columns
        assert "text" not in columns and any(c.startswith("text#") for c in columns), (stage, columns)
        assert ("residual_pii" in columns) == (stage == "cleaned"), (stage, columns)
    checked = {c["kwargs"].get("column"): c for c in saved["checks"]}
    assert checked["text"]["computed_column"] == "text#3" and checked["text"]["success"]


def test_same_input_gives_same_dataset_id_and_reuses_work(corpus, result, tmp_path):
    ws = Path(result["dataset"]).parent.parent
    again = run_curate([corpus], ws, clean=WEB_RULES_OFF)
    assert again["dataset_id"] == result["dataset_id"]
    assert again["reused"] is True
    # a fresh workspace computes the same id from scratch
    fresh = run_curate([corpus], tmp_path / "fresh", clean=WEB_RULES_OFF)
    assert fresh["dataset_id"] == result["dataset_id"]
    assert fresh["counts"] == result["counts"]


def test_crash_leftovers_are_reused_or_redone(corpus, result, tmp_path):
    """A run killed after some shards finished: finished shards are reused, the rest redone."""
    ws = tmp_path / "ws"
    shutil.copytree(Path(result["dataset"]).parent.parent, ws)
    dataset = ws / "datasets" / result["dataset_id"]
    (dataset / "manifest.json").unlink()  # the run never finished
    (dataset / "ledger.parquet").unlink()
    for half_written in (ws / "cache" / "clean").iterdir():
        (half_written / "report.json").unlink()  # as if the clean stage died mid-shard
    again = run_curate([corpus], ws, clean=WEB_RULES_OFF)
    assert again["dataset_id"] == result["dataset_id"]
    assert again["counts"] == result["counts"]
    assert ledger(again).sort("doc_id").equals(ledger(result).sort("doc_id"))


def test_changed_config_gives_a_new_dataset_id(corpus, result, tmp_path):
    other = run_curate([corpus], tmp_path, clean={**WEB_RULES_OFF, "length": {"min_words": 1}})
    assert other["dataset_id"] != result["dataset_id"]
    assert other["counts"]["kept"] == result["counts"]["kept"] + 2  # "too short" and the legacy note now pass


def test_failing_expectation_stops_the_flow_with_a_clear_message(corpus, tmp_path):
    suites = tmp_path / "suites"
    shutil.copytree(BUILTIN_SUITES, suites)
    cleaned = json.loads((suites / "cleaned.json").read_text())
    cleaned["expectations"].append(
        {"type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "text", "max_value": 200}}
    )
    (suites / "cleaned.json").write_text(json.dumps(cleaned))
    with pytest.raises(ValidationFailed) as err:
        run_curate([corpus], tmp_path / "ws", clean=WEB_RULES_OFF, validation={"suites_dir": str(suites)})
    message = str(err.value)
    assert "stage 'cleaned'" in message
    assert "expect_column_value_lengths_to_be_between(column='text', max_value=200)" in message
    assert "unexpected, e.g. [" in message
    [saved] = (tmp_path / "ws" / "datasets").glob("*/validation/cleaned.json")
    assert json.loads(saved.read_text())["success"] is False
    assert not list((tmp_path / "ws" / "datasets").glob("*/manifest.json"))  # nothing published
    # Nothing half-written stays: the folder keeps the gate's record and the error, which the list shows.
    folder = saved.parents[1]
    assert sorted(p.name for p in folder.iterdir()) == ["failed.json", "validation"]
    [row] = list_datasets(Workspace(str(tmp_path / "ws")))
    assert row["complete"] is False and row["failed"].startswith("validation failed at stage 'cleaned'")


def test_runs_of_the_same_dataset_take_turns_and_others_do_not_wait(tmp_path):
    """The lock behind "one run per dataset at a time" (flows/curate.py): a second holder of the same
    name waits until the first lets go; another name is free meanwhile; a holder that died (its
    process ended) holds nothing."""
    import subprocess
    import sys
    import threading

    ws = Workspace(str(tmp_path / "ws"))
    order: list[str] = []
    waited = threading.Event()
    with ws.lock("dataset-a"):
        second = threading.Thread(target=lambda: take(ws, "dataset-a", order, on_wait=waited.set))
        second.start()
        assert waited.wait(30)  # the second is waiting
        with ws.lock("dataset-b", on_wait=lambda: order.append("b waited")):
            order.append("b")
        order.append("first done")
    second.join(30)
    assert order == ["b", "first done", "a"]
    holder = "import fcntl, os, sys; f = open(sys.argv[1], 'a+b'); fcntl.flock(f, fcntl.LOCK_EX); os._exit(0)"
    subprocess.run([sys.executable, "-c", holder, str(tmp_path / "ws" / "locks" / "dataset-a.lock")], check=True)
    with ws.lock("dataset-a", on_wait=lambda: pytest.fail("a dead holder still held the lock")):
        pass


def take(ws: Workspace, name: str, order: list[str], on_wait) -> None:
    with ws.lock(name, on_wait=on_wait):
        order.append(name.removeprefix("dataset-"))


def test_a_missing_source_is_a_clear_error(tmp_path):
    from forge_core.io.sources import SourceError

    with pytest.raises(SourceError, match="no-such-folder: no such file or folder"):
        run_curate([tmp_path / "no-such-folder"], tmp_path / "ws")


@pytest.mark.slow
def test_existing_dask_cluster_gives_the_same_ledger(corpus, result, tmp_path):
    """`dask scheduler` and two `dask worker` processes on loopback, as a data team would run them."""
    from flows.curate import curate

    with external_cluster(workers=2) as address:
        config = {"workspace": str(tmp_path), "dask": {"address": address}, "clean": WEB_RULES_OFF}
        remote = curate(sources=[str(corpus)], config=config)
    assert remote["dataset_id"] == result["dataset_id"]
    assert ledger(remote).sort("doc_id").equals(ledger(result).sort("doc_id"))


def test_each_stage_publishes_its_counts_to_the_prefect_ui(result):
    """What an analyst sees in the Prefect UI: a table per stage, a gate per stage, a summary."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def latest(key: str):
        # The newest by creation time: the test database holds every module's runs, and an id sort
        # puts them in no useful order.
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC
            )
        return found[0] if found else None

    for stage in ("ingest", "clean", "dedup"):
        artifact = asyncio.run(latest(f"{stage}-counts"))
        assert artifact is not None and artifact.type == "table", stage
        rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        measures = {row["measure"] for row in rows}
        assert {"documents kept", "seconds"} <= measures, measures
    for key in ("validation-cleaned", "dataset-summary"):
        artifact = asyncio.run(latest(key))
        assert artifact is not None and artifact.type == "markdown"
    clusters = asyncio.run(latest("dedup-clusters"))
    assert clusters is not None and "| exact | 2 | 4 | 2 |" in clusters.data, clusters and clusters.data
    assert "<" not in clusters.data  # the largest clusters as a list of sources, no HTML in a table cell
    assert "Largest clusters" in clusters.data
    for stage in ("ingest", "clean"):  # shard progress while the stage runs, complete at its end
        progress = asyncio.run(latest(f"{stage}-progress"))
        assert progress is not None and progress.type == "progress" and float(progress.data) == 100.0, progress
    cluster = asyncio.run(latest("dask-cluster"))  # facts that outlive the run, no dashboard link that dies with it
    assert cluster is not None and cluster.type == "table", cluster
    rows = json.loads(cluster.data) if isinstance(cluster.data, str) else cluster.data
    facts = {row["measure"]: row["value"] for row in rows}
    assert facts["workers"] >= 1 and facts["threads"] >= 1, facts
    assert "<Client" not in str(cluster.data) and "dashboard" not in str(cluster.data)
    assert asyncio.run(latest("dask-dashboard")) is None
    timing = asyncio.run(latest("curate-phases"))  # where the run's time went, phase by phase
    assert timing is not None and timing.type == "table", timing
    rows = json.loads(timing.data) if isinstance(timing.data, str) else timing.data
    assert [r["phase"] for r in rows] == PHASES, rows


PHASES = ["start-up", "discovery", "cluster start", "fingerprint", "waiting for another run", "ingest"]
PHASES += ["gate ingested", "clean", "gate cleaned", "dedup", "gate deduplicated", "cluster stop", "publish"]


def test_stats_and_report_say_where_the_time_went(result):
    folder = Path(result["dataset"])
    phases = json.loads((folder / "stats.json").read_text())["phases"]
    assert set(phases) == set(PHASES) and all(s >= 0 for s in phases.values()), phases
    assert phases["start-up"] > 0 and phases["ingest"] > 0
    assert "## Where the time went" in (folder / "report.md").read_text()
    assert list(result["phases"]) == PHASES  # what `forge curate` prints as its time: line


def test_stats_hold_the_dedup_cluster_report(result):
    dedup = json.loads((Path(result["dataset"]) / "stats.json").read_text())["stages"]["dedup"]
    assert dedup["clusters"]["exact"] == {
        "clusters": 2,
        "documents": 4,
        "dropped": 2,
        "size_histogram": {"2": 2, "3": 0, "4": 0, "5-9": 0, "10-99": 0, "100+": 0},
    }
    assert {c["kind"] for c in dedup["clusters"]["largest"]} == {"exact"}
    assert dedup["counts"]["verified_pairs"] == 0  # exact copies only; they never reach the LSH
    assert {"sign", "plan.exact", "plan.near", "plan.resolve", "apply"} <= set(dedup["step_seconds"])
