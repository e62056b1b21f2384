"""`forge audit` and the cards, on the session's one `forge run` of data_samples/corpus: the same
records give the same bytes, every figure a record can give is there and cites a record that
resolves, what only a person can say waits for the compliance section, and the cards carry it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient
from test_run import MODEL, run  # noqa: F401, F811  (run: test_run.py's fixture)
from typer.testing import CliRunner

from forge.cli import app
from forge_core.compliance import PERSON_FIELDS, TO_BE_SUPPLIED
from forge_core.compliance.energy import board_power

SUPPLIED = {
    "provider": "Northwind Instruments GmbH",
    "contact": "ai-compliance@northwind.example",
    "intended_use": "Drafting replies to support tickets about Northwind's sensors, reviewed by staff.",
    "acceptable_use": "https://northwind.example/ai/acceptable-use",
    "license": "apache-2.0",
    "release_date": "2026-12-01",
}


def forge_audit(finished: dict, *args: str) -> str:
    out = CliRunner().invoke(app, ["audit", f"{MODEL}:1", "--workspace", str(finished["home"] / "ws"), *args])
    assert out.exit_code == 0, out.output
    return out.stdout


def facts(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every fact of an audit (a dict with a value and its citations), with where it sits."""
    if isinstance(node, dict) and "value" in node and ({"cite", "person", "missing"} & node.keys()):
        return [(path, node)]
    if isinstance(node, dict):
        return [f for key, child in node.items() if key != "records" for f in facts(child, f"{path}.{key}")]
    return []


def empty(value: Any) -> bool:
    if value is None or value == "" or value == [] or value == {}:
        return True
    if isinstance(value, list):
        return any(empty(v) for v in value)
    if isinstance(value, dict):
        return any(v is None or v == "" for v in value.values())
    return False


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def audit(run: dict) -> dict:  # noqa: F811
    return json.loads(forge_audit(run, "--format", "json"))


def test_two_audits_of_the_same_version_are_byte_identical(run, tmp_path):  # noqa: F811
    for fmt in ("md", "html", "json"):
        first, second = forge_audit(run, "--format", fmt), forge_audit(run, "--format", fmt)
        assert first == second, fmt
    written = tmp_path / "audit.md"
    forge_audit(run, "--out", str(written))
    assert written.read_text(encoding="utf-8") == forge_audit(run)
    html = forge_audit(run, "--format", "html")
    assert html.startswith("<!doctype html>") and "Annex XI" in html and run["dataset_id"] in html


def test_every_figure_a_record_holds_is_filled(run, audit):  # noqa: F811
    found = facts(audit)
    assert len(found) > 40
    for path, fact in found:
        if "person" in fact:
            continue
        assert "missing" not in fact, (path, fact)  # this run recorded everything the audit reads
        assert not empty(fact["value"]) and fact["cite"], (path, fact)
    general = audit["public_summary"]["general"]
    assert general["training_tokens"]["value"] == run["tokens"]["train"]
    assert general["size_band"]["value"] == "< 1B tokens"
    languages = {row["language"]: row for row in general["languages"]["value"]}
    assert languages["en"]["documents_share"] > 0.9 and sum(r["tokens"] for r in languages.values()) > 0
    largest = audit["public_summary"]["sources"]["largest"]["value"]
    assert abs(sum(row["tokens_share"] for row in largest) - 1) < 0.01
    assert largest[0]["source"].startswith(str(Path(__file__).parents[1] / "data_samples" / "corpus"))
    removed = {r for row in audit["public_summary"]["processing"]["removals"]["value"] for r in row["reasons"]}
    assert {"too_short", "exact_duplicate", "near_duplicate", "unreadable_pdf"} <= removed
    pii = {row["type"]: row for row in audit["public_summary"]["processing"]["pii"]["value"]}
    assert pii["email"]["found"] > 0 and pii["email"]["action"] == "redact"
    gates = audit["public_summary"]["processing"]["validation"]["value"]
    assert [g["result"] for g in gates] == ["passed"] * 3
    compute = audit["technical_documentation"]["compute"]
    seen = audit["technical_documentation"]["training"]["tokens_processed"]["value"]
    assert compute["training_flops"]["value"] == compute["flops_per_token"]["value"] * seen
    assert audit["technical_documentation"]["design"]["parameters"]["value"] == run["parameters"]
    energy = audit["technical_documentation"]["energy"]
    assert energy["energy_kwh"]["value"].startswith("not estimated: a CPU run")  # never a silent guess


def test_what_only_a_person_can_say_is_to_be_supplied_until_the_config_gives_it(run, audit, tmp_path):  # noqa: F811
    person = {f["person"]: f for _, f in facts(audit) if "person" in f}
    assert set(person) == {f"compliance.{field}" for field in PERSON_FIELDS}
    assert all(f["value"] == TO_BE_SUPPLIED and not f.get("cite") for f in person.values())
    assert TO_BE_SUPPLIED in forge_audit(run)

    config = tmp_path / "forge.yaml"
    config.write_text(yaml.safe_dump({"compliance": SUPPLIED | {"power_watts": 65}}), encoding="utf-8")
    given = json.loads(forge_audit(run, "--format", "json", "--config", str(config)))
    person = {f["person"]: f for _, f in facts(given) if "person" in f}
    for field, value in SUPPLIED.items():
        fact = person[f"compliance.{field}"]
        assert fact["value"] == value and fact["cite"] == [{"record": "config", "at": f"compliance.{field}"}]
    record = {"kind": "config file", "path": str(config.resolve()), "sha256": sha256(config)}
    assert given["records"]["config"] == record
    energy, compute = given["technical_documentation"]["energy"], given["technical_documentation"]["compute"]
    assert energy["power_watts"]["value"] == 65
    assert energy["energy_kwh"]["value"] == pytest.approx(compute["device_hours"]["value"] * 65 / 1000, rel=1e-5)
    card = forge_audit(run, "--format", "card", "--config", str(config))
    assert "license: apache-2.0" in card and "license_name" not in card


def test_every_citation_names_a_record_that_resolves(run, audit):  # noqa: F811
    ws, client = run["home"] / "ws", MlflowClient()
    records = audit["records"]
    for path, fact in facts(audit):
        for cite in fact.get("cite", []):
            assert cite["record"] in records, (path, cite)
    for key, record in records.items():
        kind = record["kind"]
        if kind == "workspace file":
            assert sha256(ws / record["path"]) == record["sha256"], key
        elif kind == "workspace files":
            assert record["files"] and all(sha256(ws / f["path"]) == f["sha256"] for f in record["files"]), key
        elif kind == "mlflow run":
            assert client.get_run(record["run_id"]).info.run_name == record["run_name"], key
        elif kind == "mlflow artifact":
            local = Path(client.download_artifacts(record["run_id"], record["path"]))
            assert sha256(local) == record["sha256"], key
        elif kind == "mlflow model version":
            assert client.get_model_version(record["name"], record["version"]).version, key
        else:
            raise AssertionError(f"unknown record kind {kind}")
    # A param, metric or tag cited by name is one the run or the version holds.
    run_id = records["run"]["run_id"]
    data, tags = client.get_run(run_id).data, client.get_model_version(MODEL, "1").tags
    for path, fact in facts(audit):
        for cite in fact.get("cite", []):
            what, _, name = cite["at"].partition(".")
            if cite["record"] == "run" and what in ("params", "metrics"):
                assert name in getattr(data, what), (path, cite)
            if cite["record"] == "model version" and what == "tags":
                assert name in tags, (path, cite)
    ledger = ws / records["ledger.parquet"]["path"]
    assert audit["lineage"]["ledger_sha256"]["value"] == sha256(ledger)


def test_every_dataset_version_has_a_card_with_hugging_face_metadata(run):  # noqa: F811
    from huggingface_hub import DatasetCard

    folder = run["home"] / "ws" / "datasets" / run["dataset_id"]
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["size_categories"] == ["n<1K"] and meta["task_categories"] == ["text-generation"]
    assert "en" in meta["language"] and meta["pretty_name"].endswith(run["dataset_id"]) and "license" not in meta
    assert DatasetCard(text).data.to_dict()["size_categories"] == ["n<1K"]
    assert "too_short" in text and "near_duplicate" in text and "email" in text  # the audit's facts
    assert forge_audit(run, "--format", "dataset-card") == text  # regenerated from the same records
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["digests"]["README.md"] == sha256(folder / "README.md")  # `forge verify` checks it


def test_the_registered_version_and_its_export_carry_the_model_card(run, tmp_path):  # noqa: F811
    from huggingface_hub import ModelCard

    client = MlflowClient()
    version = client.get_model_version(MODEL, "1")
    logged = Path(client.download_artifacts(version.run_id, "model_card/README.md")).read_text(encoding="utf-8")
    assert logged == forge_audit(run, "--format", "card")  # what `forge audit` writes from the same records
    meta = ModelCard(logged).data.to_dict()
    assert meta["license"] == "other" and meta["license_name"] == TO_BE_SUPPLIED and "en" in meta["language"]
    assert run["dataset_id"] in logged and "Annex XI" in logged

    out = tmp_path / "hf"
    args = ["export", f"{MODEL}:1", "--out", str(out), "--workspace", str(run["home"] / "ws")]
    exported = CliRunner().invoke(app, args)
    assert exported.exit_code == 0, exported.output
    assert (out / "README.md").read_text(encoding="utf-8") == logged


def test_an_unknown_model_or_format_is_one_error_line(run):  # noqa: F811
    ws = str(run["home"] / "ws")
    missing = CliRunner().invoke(app, ["audit", "no-such-model", "--workspace", ws])
    assert missing.exit_code == 1 and "no registered model" in missing.output
    bad = CliRunner().invoke(app, ["audit", f"{MODEL}:1", "--format", "pdf", "--workspace", ws])
    assert bad.exit_code == 1 and "choose md, html, json" in bad.output


def test_the_energy_estimate_takes_the_board_power_of_the_recorded_gpu():
    assert board_power("NVIDIA H100 80GB HBM3")[0] == 700
    assert board_power("NVIDIA H100 PCIe")[0] == 350
    assert board_power("NVIDIA A100-SXM4-80GB")[0] == 400
    assert board_power("NVIDIA L40S")[0] == 350 and board_power("NVIDIA L40")[0] == 300
    assert board_power("cpu") is None and board_power("NVIDIA GH200 480GB") is None
