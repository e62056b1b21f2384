"""forge dataset list / show / export, and the report each dataset version carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from documents import write
from flow_runs import run_curate
from typer.testing import CliRunner

from forge.cli import app

REPORTS = [
    "The maintenance team replaced the pressure sensor on line four after the morning shift reported drift. "
    "Readings had wandered by almost two percent over the week, which is more than the limit allows. "
    "With the new sensor installed, the values settled within a tenth of a percent of the reference gauge.",
    "Our canteen will close for renovation from the first of June until the end of the month. "
    "During the works, a food truck will stand in the north car park at lunch time every weekday. "
    "The menu and the prices stay the same, and vegetarian dishes will be offered each day.",
    "The quarterly audit found that three suppliers had sent invoices without purchase order numbers. "
    "Finance will return such invoices from next month, so please remind your contacts of the rule. "
    "A short guide to the purchasing process is now in the handbook, in the chapter on buying.",
    "Visitors must now sign in at the new reception desk in building C and wear their badge at all times. "
    "Hosts collect their guests at the desk and walk them back when the meeting is over. "
    "Contractors working on site for more than a week receive a temporary card from security.",
]
CONTACT = (
    " Questions go to anna.berg@example.com or +44 20 7946 0958, and we answer within a day."
    " Thank you all for your help with this change."
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    docs = tmp_path_factory.mktemp("docs")
    for n, text in enumerate(REPORTS):
        write(docs / f"report{n}.txt", text + CONTACT)
    write(docs / "note.txt", "too short to keep")
    ws = tmp_path_factory.mktemp("ws")
    return run_curate([docs], ws) | {"ws": str(ws)}


def invoke(dataset: dict, *args: str):
    return CliRunner().invoke(app, [*args, "--workspace", dataset["ws"]])


def test_list_shows_the_version_with_its_counts(dataset):
    out = invoke(dataset, "dataset", "list", "--json")
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.stdout.strip().splitlines()[-1])["datasets"]
    assert (row["dataset_id"], row["kept"], row["dropped"], row["validation"]) == (
        dataset["dataset_id"],
        4,
        1,
        "passed",
    )


def test_show_gives_counts_steps_config_and_validation(dataset):
    out = invoke(dataset, "dataset", "show", dataset["dataset_id"], "--json")
    assert out.exit_code == 0, out.output
    shown = json.loads(out.stdout.strip().splitlines()[-1])
    assert shown["counts"]["kept"] == 4 and shown["validation"]["status"] == "passed"
    assert shown["config"]["clean"]["profile"] == "enterprise"
    assert [s["step"] for s in shown["steps"]][:3] == ["normalize", "language", "pii"]
    assert {r["language"]: r["kept"] for r in shown["languages"]}["en"] == 4
    assert "too_short" in out.stdout and "validation: passed" in out.stdout


def test_export_writes_every_kept_document_as_jsonl(dataset, tmp_path):
    target = tmp_path / "out" / "corpus.jsonl"
    out = invoke(dataset, "dataset", "export", dataset["dataset_id"], "--out", str(target))
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == 4 and {"doc_id", "source_uri", "text", "language"} <= set(rows[0])
    assert all("<EMAIL>" in r["text"] and "anna.berg" not in r["text"] for r in rows)
    assert not list(target.parent.glob("*.partial"))


def test_unknown_dataset_is_a_clear_error(dataset):
    out = invoke(dataset, "dataset", "show", "ds-0000000000000000")
    assert out.exit_code == 1 and "no finished dataset version 'ds-0000000000000000'" in out.output
    assert dataset["dataset_id"] in out.output  # the message lists the known ones


def test_report_lists_steps_reasons_languages_pii_and_plots_lengths(dataset):
    folder = Path(dataset["dataset"])
    report = (folder / "report.md").read_text()
    for heading in ("Documents and characters per step", "Removed, by reason", "Languages", "PII found, by type"):
        assert f"## {heading}" in report
    assert "| clean | normalize |" in report and "| too_short |" in report.replace("| dropped | clean ", "")
    assert "| email | 4 | 4 |" in report and "| phone | 4 | 4 |" in report
    assert (folder / "lengths.png").read_bytes().startswith(b"\x89PNG")
    stats = json.loads((folder / "stats.json").read_text())
    assert {p["type"]: p["found"] for p in stats["pii"]}["email"] == 4


def test_report_is_a_prefect_artifact(dataset):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def latest() -> list:
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["dataset-report", "clean-steps"]))
            )

    keys = {a.key for a in asyncio.run(latest())}
    assert keys == {"dataset-report", "clean-steps"}
