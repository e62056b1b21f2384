"""`forge run` end to end on the demo corpus, then everything an auditor asks of its records."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml
from conftest import MLFLOW_UI, MODEL, SAMPLES
from typer.testing import CliRunner

from forge.cli import app
from forge_core.io.workspace import Workspace
from forge_core.lineage.tracking import use_workspace_tracking

CORPUS = SAMPLES / "corpus"
KEPT = CORPUS / "kb" / "kb_0007_modbus_timeouts.md"
DUPLICATE, SURVIVOR = CORPUS / "mail" / "it_maintenance_window_copy.eml", CORPUS / "mail" / "it_maintenance_window.eml"


@pytest.fixture(scope="module")
def run(forge_run_workspace: dict) -> dict:
    """The session's one `forge run` from a shell (conftest.py), with this process's MLflow client
    pointed at its workspace: the tests below read what it recorded. Other modules import this
    fixture to read the same run."""
    use_workspace_tracking(Workspace(str(forge_run_workspace["home"] / "ws")))
    return forge_run_workspace


def cli(run: dict, *args: str) -> dict:
    out = CliRunner().invoke(app, [*args, "--workspace", str(run["home"] / "ws"), "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_summary_and_json_name_the_dataset_the_run_and_the_model(run):
    for key in ("dataset_id", "ledger", "mlflow_run_id", "model_name", "model_version"):
        assert run[key], key
    assert (run["model_name"], run["model_version"]) == (MODEL, "1")
    assert run["counts"]["ingested"] == run["counts"]["kept"] + run["counts"]["dropped"] + run["counts"]["quarantined"]
    assert f"registered: {MODEL} version 1" in run["stdout"] and "bits per byte" in run["stdout"]
    assert not (run["home"] / "mlruns").exists()  # MLflow wrote inside the workspace, not into the cwd
    assert (run["home"] / "ws" / "mlflow" / "mlflow.db").is_file()


def test_registered_candidate_loads_as_pyfunc_and_generates_text(run):
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@candidate")
    out = model.predict(pd.DataFrame({"prompt": ["The pump", "Dear team"]}), params={"max_new_tokens": 12})
    assert list(out.columns) == ["text"] and len(out) == 2
    assert all(isinstance(t, str) for t in out["text"]) and "".join(out["text"]).strip()
    greedy = {"max_new_tokens": 12, "temperature": 0.0}
    prompt = pd.DataFrame({"prompt": ["The pump"]})
    assert model.predict(prompt, params=greedy).equals(model.predict(prompt, params=greedy))


def test_model_is_stored_without_pickle_with_its_tokenizer_and_config(run):
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/1"))
    files = {p.name for p in local.rglob("*") if p.is_file()}
    assert {"model.safetensors", "tokenizer.json", "config.json", "MLmodel"} <= files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".pt", ".ckpt"))]
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"].get("model_code_path")  # models from code
    assert mlmodel["signature"]["inputs"] and mlmodel["signature"]["params"]


def test_version_tags_and_runs_carry_the_lineage(run):
    client = mlflow.tracking.MlflowClient()
    version = client.get_model_version_by_alias(MODEL, "candidate")
    tags = version.tags
    ledger_sha = hashlib.sha256(Path(run["ledger"]).read_bytes()).hexdigest()
    assert tags["dataset_id"] == run["dataset_id"] and tags["ledger_digest"] == ledger_sha
    assert tags["validation_status"] == "passed" and tags["forge_version"].startswith("0.")
    assert tags["prefect_flow_run_id"]

    train = client.get_run(version.run_id)
    assert train.data.tags["mlflow.parentRunId"] == run["mlflow_run_id"]
    children = client.search_runs([train.info.experiment_id], f"tags.mlflow.parentRunId = '{run['mlflow_run_id']}'")
    assert {r.info.run_name for r in children} == {"curate", "train"}
    for child in children:
        (entry,) = child.inputs.dataset_inputs
        assert entry.dataset.digest == run["dataset_id"]
        assert json.loads(entry.dataset.source)["uri"] == run["dataset"]
    curate = next(r for r in children if r.info.run_name == "curate")
    logged = {a.path for a in client.list_artifacts(curate.info.run_id, "dataset")}
    assert {"dataset/ledger.parquet", "dataset/stats.json", "dataset/config.yaml", "dataset/validation"} <= logged
    assert {"dataset/report.md", "dataset/lengths.png"} <= logged  # the dataset report, as MLflow artifacts
    assert {a.path for a in client.list_artifacts(version.run_id, "tokenizer")} == {"tokenizer/tokenizer.json"}
    history = client.get_metric_history(version.run_id, "val_bpb")
    assert [m.step for m in history][0] == 0 and len(history) >= 3  # untrained, then every eval_every steps
    assert {"train_loss", "lr", "tokens_per_s", "eval_val_loss", "eval_perplexity", "eval_val_bpb"} <= set(
        train.data.metrics
    )


def test_lineage_doc_of_a_kept_document_lists_the_model_version(run):
    answer = cli(run, "lineage", "doc", str(KEPT))
    (seen,) = answer["datasets"]
    assert (seen["dataset_id"], seen["status"]) == (run["dataset_id"], "kept")
    assert {"name": MODEL, "version": "1"} in [{k: v[k] for k in ("name", "version")} for v in answer["model_versions"]]
    by_id = cli(run, "lineage", "doc", seen["doc_id"])
    by_sha = cli(run, "lineage", "doc", hashlib.sha256(KEPT.read_bytes()).hexdigest())
    assert by_id["datasets"] == by_sha["datasets"] == answer["datasets"]


def test_lineage_doc_of_a_planted_duplicate_names_its_survivor_and_no_model(run):
    answer = cli(run, "lineage", "doc", str(DUPLICATE))
    (seen,) = answer["datasets"]
    assert (seen["status"], seen["reason"]) == ("dropped", "exact_duplicate")
    assert seen["duplicate_of"]["source_uri"] == "file://" + str(SURVIVOR.resolve())
    assert answer["model_versions"] == []


def test_lineage_model_counts_match_the_ledger(run):
    answer = cli(run, "lineage", "model", f"{MODEL}:1", "--documents")
    ledger = pl.read_parquet(run["ledger"])
    assert answer["dataset"]["dataset_id"] == run["dataset_id"] and answer["dataset"]["ledger_matches_tag"]
    counts = answer["counts"]
    for status in ("kept", "dropped", "quarantined"):
        assert counts[status] == ledger.filter(pl.col("status") == status).height
    for reason, n in ledger.filter(pl.col("status") != "kept").group_by("reason").len().iter_rows():
        assert sum(r.get(reason, 0) for r in counts["by_reason"].values()) == n
    kept = ledger.filter(pl.col("status") == "kept")
    assert sorted(d["doc_id"] for d in answer["documents"]) == sorted(kept["doc_id"])
    assert all(v["success"] for v in answer["validation"].values())
    assert answer["training"]["params"]["train/max_steps"] == "12"
    assert answer["training"]["metrics"]["eval_val_bpb"] == pytest.approx(run["val_bpb"], abs=1e-3)


def test_lineage_of_unknown_things_fails_with_a_clear_message(run):
    runner, ws = CliRunner(), str(run["home"] / "ws")
    missing = runner.invoke(app, ["lineage", "model", "no-such-model", "--workspace", ws])
    assert missing.exit_code == 1 and "no registered model named 'no-such-model'" in missing.output
    unknown = runner.invoke(app, ["lineage", "doc", "0123456789abcdef", "--workspace", ws])
    assert unknown.exit_code == 1 and "0123456789abcdef: no dataset version" in unknown.output


def test_forge_generate_prints_a_continuation(run):
    out = CliRunner().invoke(
        app, ["generate", f"{MODEL}@candidate", "Pump", "--workspace", str(run["home"] / "ws"), "--max-new-tokens", "5"]
    )
    assert out.exit_code == 0, out.output
    assert out.output.startswith("Pump") and len(out.output.strip()) > len("Pump")


def test_forge_eval_scores_every_byte_of_a_text_file(run, tmp_path):
    text = KEPT.read_text(encoding="utf-8")[:300]  # shorter than the context: one window, checked by hand below
    (tmp_path / "held_out.txt").write_text(text, encoding="utf-8")
    scores = cli(run, "eval", f"{MODEL}@candidate", "--text", str(tmp_path / "held_out.txt"))
    assert (scores["model_name"], scores["model_version"], scores["bytes"]) == (MODEL, "1", len(text.encode()))

    import torch

    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL}@candidate").unwrap_python_model()
    ids = [loaded.tokenizer.token_to_id("<|endoftext|>"), *loaded.tokenizer.encode(text, add_special_tokens=False).ids]
    with torch.no_grad():
        logits, _ = loaded.model(torch.tensor([ids[:-1]]))
        nats = torch.nn.functional.cross_entropy(logits[0].float(), torch.tensor(ids[1:]), reduction="sum")
    assert scores["tokens"] == len(ids) - 1
    assert scores["bits_per_byte"] == pytest.approx(float(nats) / np.log(2) / len(text.encode()), rel=1e-4)

    missing = CliRunner().invoke(app, ["eval", MODEL, "--text", str(tmp_path / "nope.txt"), "--workspace", "x"])
    assert missing.exit_code == 1 and "nope.txt: cannot read as UTF-8 text" in missing.output


def test_the_train_run_holds_the_loss_curve_and_its_picture(run):
    client = mlflow.tracking.MlflowClient()
    files = {a.path for a in client.list_artifacts(run["train_run_id"], "training")}
    assert files == {"training/curve.json", "training/loss.png"}
    curve = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(run_id=run["train_run_id"], artifact_path="training/curve.json")
        ).read_text()
    )
    assert [p["step"] for p in curve["train"]] == list(range(1, 13)) and [p["step"] for p in curve["val"]] == [0, 6, 12]


def test_run_summary_tells_documents_to_dataset_to_model_and_links_the_mlflow_run(monkeypatch):
    from flows.run import mlflow_run_link, run_markdown

    monkeypatch.delenv("FORGE_MLFLOW_UI_URL", raising=False)

    dataset = {
        "dataset_id": "ds-1",
        "files": 3,
        "ledger": "/ws/ledger.parquet",
        "validation": {"ingested": True, "cleaned": True, "deduplicated": False},
        "counts": {
            "ingested": 5,
            "kept": 3,
            "dropped": 1,
            "quarantined": 1,
            "by_reason": {"dropped.dedup": {"exact_duplicate": 1}, "quarantined.ingest": {"unreadable_pdf": 1}},
        },
    }
    result = {
        "parameters": 1000,
        "steps": 12,
        "world_size": 1,
        "device_name": "cpu",
        "precision": "32-true",
        "tokens_per_s": 1234.0,
        "final": {"val_bpb": 3.5},
        "initial": {"val_bpb": 4.2},
    }
    link = mlflow_run_link("http://127.0.0.1:5000/", "7", "abc")
    assert link.startswith("[MLflow run abc](http://127.0.0.1:5000/#/experiments/7/runs/abc)")
    assert "(http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning)" in link
    assert "browse it with `forge ui`" in mlflow_run_link("sqlite:///ws/mlflow/mlflow.db", "7", "abc")
    monkeypatch.setenv("FORGE_MLFLOW_UI_URL", "http://127.0.0.1:5001")  # `forge ui` serving the SQLite store
    served = mlflow_run_link("sqlite:///ws/mlflow/mlflow.db", "7", "abc")
    assert served.startswith("[MLflow run abc](http://127.0.0.1:5001/#/experiments/7/runs/abc)")
    page = run_markdown(dataset, result, {"model_name": "m", "model_version": "2"}, link)
    assert page.startswith("# forge run: m version 2") and link in page and "`models:/m/2`" in page
    assert "| deduplicated | FAILED |" in page and "| dropped | dedup | exact_duplicate | 1 |" in page
    assert "5 documents from 3 files: **3 kept**" in page and "bits per byte 3.500 (untrained 4.200)" in page


def test_the_registered_model_exported_to_hf_continues_text_as_forge_does(run, tmp_path):
    """From the registry: `forge export --format hf`, then transformers' greedy continuation equals
    `forge generate --temperature 0` token for token (32 new tokens)."""
    transformers = pytest.importorskip("transformers")
    import torch

    prompt = "The calibration of the pump"
    out = CliRunner().invoke(
        app,
        [
            "generate",
            MODEL,
            prompt,
            "--temperature",
            "0",
            "--max-new-tokens",
            "32",
            "--workspace",
            str(run["home"] / "ws"),
        ],
    )
    assert out.exit_code == 0, out.output
    ours = out.stdout.removesuffix("\n")
    exported = cli(run, "export", MODEL, "--out", str(tmp_path / "hf"))
    assert "model.safetensors" in exported["files"]
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", local_files_only=True).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf", local_files_only=True)
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        generated = model.generate(ids, max_new_tokens=32, do_sample=False)
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    theirs = prompt + tokenizer.decode([t for t in generated[0, ids.shape[1] :].tolist() if t != eot])
    assert theirs == ours


# What the run shows in MLflow's and Prefect's own UIs ------------------------------------------


def prefect_artifacts(run: dict) -> dict[str, list]:
    """The run's Prefect artifacts by key, read from the embedded server's database in the workspace."""
    with sqlite3.connect(run["home"] / "ws" / "prefect" / "prefect.db") as db:
        rows = db.execute("SELECT key, type, data FROM artifact WHERE key IS NOT NULL ORDER BY created").fetchall()
    found: dict[str, list] = {}
    for key, kind, data in rows:  # JSON text, except what SQLite stored as a number (progress)
        found.setdefault(key, []).append((kind, json.loads(data) if isinstance(data, str) else data))
    return found


def test_the_experiment_opens_in_the_model_training_view(run):
    client = mlflow.tracking.MlflowClient()
    experiment = client.get_experiment(client.get_run(run["mlflow_run_id"]).info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_parent_run_shows_the_headline_the_dataset_and_the_model(run):
    client = mlflow.tracking.MlflowClient()
    parent = client.get_run(run["mlflow_run_id"])
    metrics, params, tags = parent.data.metrics, parent.data.params, parent.data.tags
    for status in ("ingested", "kept", "dropped", "quarantined"):
        assert metrics[f"documents_{status}"] == run["counts"][status], status
    assert metrics["parameters"] == run["parameters"]
    assert metrics["eval_val_bpb"] == pytest.approx(run["val_bpb"], abs=1e-4)
    assert (params["train_tokens"], params["val_tokens"]) == (str(run["tokens"]["train"]), str(run["tokens"]["val"]))
    (entry,) = parent.inputs.dataset_inputs
    assert entry.dataset.digest == run["dataset_id"] and json.loads(entry.dataset.source)["uri"] == run["dataset"]
    assert (tags["registered_model_name"], tags["registered_model_version"]) == (MODEL, "1")
    train = client.get_run(client.get_model_version(MODEL, "1").run_id)
    (model,) = train.outputs.model_outputs  # the logged model the version was registered from
    assert [m.model_id for m in parent.outputs.model_outputs] == [model.model_id]  # shown on the parent's page


def test_the_run_of_the_model_version_previews_the_ledger_as_a_table(run):
    client = mlflow.tracking.MlflowClient()
    version = client.get_model_version(MODEL, "1")
    train = client.get_run(version.run_id)
    assert train.data.tags["ledger_table"] == "dataset/ledger.json"
    table = client.load_table(train.info.experiment_id, "dataset/ledger.json", run_ids=[version.run_id])
    ledger = pl.read_parquet(run["ledger"])
    assert list(table.columns) == ["doc_id", "source_uri", "status", "stage", "reason", "detail"]
    assert sorted(table["doc_id"]) == sorted(ledger["doc_id"])
    duplicate = table[table["source_uri"] == "file://" + str(DUPLICATE.resolve())].iloc[0]
    assert (duplicate["status"], duplicate["reason"]) == ("dropped", "exact_duplicate")


def test_a_ledger_too_long_for_a_table_is_cut_and_says_so(run):
    from forge_core.lineage import records

    client = mlflow.tracking.MlflowClient()
    experiment_id = client.get_run(run["mlflow_run_id"]).info.experiment_id
    scratch = records.start_run(experiment_id, "ledger-table-cap", {})
    ws = Workspace(str(run["home"] / "ws"))
    path = records.log_ledger_table(scratch, ws, run["dataset_id"], max_rows=5)
    assert path == f"dataset/ledger-first-5-of-{run['counts']['ingested']}.json"
    table = client.load_table(experiment_id, path, run_ids=[scratch])
    assert list(table["doc_id"]) == pl.read_parquet(run["ledger"])["doc_id"].head(5).to_list()
    client.delete_run(scratch)


def test_the_prefect_pages_show_their_pictures_and_links_without_html(run):
    artifacts = prefect_artifacts(run)
    summary = artifacts["run-summary"][-1][1]
    assert f"]({MLFLOW_UI}/#/experiments/" in summary and f"/runs/{run['mlflow_run_id']})" in summary

    report = artifacts["dataset-report"][-1][1]
    assert "](data:image/png;base64,iVBOR" in report  # the histogram travels inside the page
    assert not re.search(r"!\[[^\]]*\]\((?!data:)", report)  # no image the UI would look up next to the page
    assert "## Duplicate clusters" in report and "kept `" in report
    assert not [line for line in report.splitlines() if line.startswith("|") and "<" in line]  # no HTML in tables

    curve = artifacts["training-curve"][-1][1]
    assert "](data:image/png;base64,iVBOR" in curve and "| 12 |" in curve  # the picture and the last evaluation

    (kind, facts), *_ = artifacts["dask-cluster"]
    facts = json.loads(facts) if isinstance(facts, str) else facts  # Prefect keeps a table as JSON text
    assert kind == "table" and {row["measure"] for row in facts} >= {"workers", "threads"}
    assert "<Client" not in json.dumps(artifacts) and "dask-dashboard" not in artifacts
