"""`forge train` as a user runs it: killed and resumed, on two processes, and on a machine with only
torch, lightning and numpy."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import token_files
import torch
from conftest import ROOT, SHARED
from packaging.markers import Marker
from safetensors.torch import load_file

SHAKESPEARE = SHARED / "corpora" / "tinyshakespeare.txt"
FORGE = [sys.executable, "-m", "forge_core.train"]
RUN = ["--max-steps", "30", "--eval-every", "10", "--checkpoint-every", "5", "--warmup-steps", "5", "--seed", "7"]


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> Path:
    if not SHAKESPEARE.exists():
        pytest.skip("../shared/corpora is not beside this checkout")
    return Path(
        token_files.shakespeare_tokens(SHAKESPEARE, tmp_path_factory.mktemp("tokens"), vocab_size=512)["folder"]
    )


def forge_train(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([*FORGE, *args], capture_output=True, text=True, env=env, timeout=300, **kwargs)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def uninterrupted(tokens, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    forge_train("--tokens", str(tokens), "--out", str(out), "--batch-size", "8", "--accelerator", "cpu", *RUN)
    return out


def curve(out: Path) -> dict:
    return json.loads((out / "curve.json").read_text())


def test_a_killed_run_resumes_to_the_same_loss_curve(tokens, uninterrupted, tmp_path):
    args = ["--tokens", str(tokens), "--out", str(tmp_path), "--batch-size", "8", "--accelerator", "cpu", *RUN]
    proc = subprocess.Popen([*FORGE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    checkpoint = tmp_path / "checkpoints" / "step-00000015.ckpt"
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # no handler, no last words: whatever is on disk is all there is
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-training"
    assert not (tmp_path / "result.json").exists()

    forge_train("--tokens", str(tokens), "--out", str(tmp_path), "--resume", cwd=tmp_path)
    assert not (tmp_path / "mlruns").exists()
    whole, resumed = curve(uninterrupted), curve(tmp_path)
    assert [p["step"] for p in resumed["train"]] == list(range(1, 31))
    assert resumed == whole  # every training loss and every evaluation, to the last bit
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["steps"] == 30 and result["stopped_by"] == "max_steps"
    # MLflow (installed here) kept the run and its artifacts in the run folder, not in the cwd.
    assert {p.name for p in (tmp_path / "mlflow-artifacts").rglob("*.png")} == {"loss.png"}

    refused = subprocess.run([*FORGE, *args], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "already holds a run: --resume to continue it" in refused.stderr


def test_checkpoints_hold_the_whole_training_state_and_no_code(uninterrupted):
    files = sorted((uninterrupted / "checkpoints").glob("step-*.ckpt"))
    assert [f.name for f in files] == ["step-00000020.ckpt", "step-00000025.ckpt", "step-00000030.ckpt"]  # keep 3
    assert (uninterrupted / "checkpoints" / "last.ckpt").resolve() == files[-1]
    for path in files:
        state = torch.load(path, map_location="cpu", weights_only=True)  # refuses any pickled code object
        assert {"state_dict", "optimizer_states", "lr_schedulers", "loops", "rng", "callbacks"} <= set(state)
        assert {"torch", "numpy", "python"} <= set(state["rng"])
        assert state["lr_schedulers"][0]["last_epoch"] == state["global_step"] == int(path.stem[5:])
        assert any(k.startswith("LossCurve") for k in state["callbacks"])


def test_two_processes_on_gloo_train_exactly_like_one_with_the_same_global_batch(tokens, uninterrupted, tmp_path):
    done = forge_train(
        "--tokens",
        str(tokens),
        "--out",
        str(tmp_path),
        "--batch-size",
        "4",
        "--accelerator",
        "cpu",
        "--devices",
        "2",
        "--strategy",
        "ddp",
        "--json",
        *RUN,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["strategy"], result["world_size"]) == ("ddp", 2)
    one, two = curve(uninterrupted), curve(tmp_path)
    # Same global batches (MicroBatches deals each rank its half), gradients averaged by DDP.
    assert [p["step"] for p in two["train"]] == [p["step"] for p in one["train"]]
    for a, b in zip(one["train"] + one["val"], two["train"] + two["val"], strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
    w1, w2 = (load_file(str(p / "model" / "model.safetensors")) for p in (uninterrupted, tmp_path))
    for name in w1:
        torch.testing.assert_close(w2[name], w1[name], rtol=1e-4, atol=1e-5)


def bare_site(root: Path) -> Path:
    """A site-packages holding only torch, lightning and numpy and what they require, as links."""
    todo, seen = ["torch", "lightning", "numpy"], {}
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        try:
            seen[name] = dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        for req in dist.requires or []:
            spec, _, marker = req.partition(";")
            if not marker or Marker(marker).evaluate({"extra": ""}):
                todo.append(re.split(r"[ <>=!~\[(]", spec.strip(), maxsplit=1)[0])
    site = root / "site-packages"
    site.mkdir()
    for dist in seen.values():
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            source = Path(dist.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return site


def test_forge_train_runs_where_only_torch_lightning_and_numpy_are_installed(tokens, tmp_path):
    site = bare_site(tmp_path)
    assert not {"mlflow", "polars", "pydantic", "typer", "prefect", "safetensors", "matplotlib"} & {
        p.name for p in site.iterdir()
    }
    out = tmp_path / "run"
    # -S: no site-packages but the bare one (and the egress guard the suite runs everything under).
    boot = (
        f"import sys; sys.path[:0] = [{str(site)!r}, {str(ROOT)!r}, {str(ROOT / 'tests' / 'egress_guard')!r}];"
        "import sitecustomize; from forge.launcher import main; sys.argv[0] = 'forge'; main()"
    )
    args = ["train", "--tokens", str(tokens), "--out", str(out), "--max-steps", "6", "--eval-every", "3", "--json"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", boot, *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["steps"] == 6
    assert {p.name for p in (out / "model").iterdir()} == {"model.pt", "config.json", "tokenizer.json"}
    assert (out / "logs" / "version_0" / "metrics.csv").exists()  # no MLflow here: Lightning's CSV log
    assert not (out / "loss.png").exists()  # no matplotlib: the curve is in curve.json
    assert len(curve(out)["train"]) == 6
    probe = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path[:0] = [{str(site)!r}]; import pydantic"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "No module named 'pydantic'" in probe.stderr
