"""The lineage page of `forge ui` in a real browser (headless Chromium driven by Selenium): a
document found by its path, the model version it reached, that version's documents filtered and
paged, and the links into the MLflow and Prefect UIs. The page runs as the child process `forge ui`
starts, over the workspace of test_run.py's `forge run`."""

from __future__ import annotations

import math
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import polars as pl
import pytest
from test_run import DUPLICATE, KEPT, MODEL, SURVIVOR, run  # noqa: F401  (run: test_run.py's fixture)
from test_ui import free_ports
from typer.testing import CliRunner

from forge.cli import app
from forge.services import ui
from forge.services.lineage_html import render
from forge.services.lineage_page import Links
from forge.services.supervise import ServiceError, answers
from forge_core.io.workspace import Workspace

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
MLFLOW_UI, PREFECT_UI = "http://127.0.0.1:5000", "http://127.0.0.1:4200"
PAGE_SIZE = 10  # small, so the demo corpus's dropped documents fill several pages
WAIT_S = 60


def fetch(url: str, host: str | None = None) -> tuple[int, str, dict[str, str]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


@pytest.fixture(scope="module")
def recorded(request) -> dict:
    """test_run.py's `forge run` of the demo corpus, with its registered model: the same fixture, not a
    copy of it (module-scoped there, so it runs once for each module that uses it)."""
    return request.getfixturevalue("run")


@pytest.fixture(scope="module")
def page(recorded, tmp_path_factory) -> Iterator[str]:
    """The lineage page as `forge ui` starts it (the same command), linking to the default UI ports."""
    ws = Workspace(str(recorded["home"] / "ws"))
    (port,) = free_ports(1)
    logs = tmp_path_factory.mktemp("lineage-logs")
    service = ui.lineage_service(ws, "127.0.0.1", port, logs, PREFECT_UI, MLFLOW_UI)
    with service.log.open("wb") as log:
        cmd = [*service.command, "--page-size", str(PAGE_SIZE)]
        proc = subprocess.Popen(cmd, env=service.env, stdout=log, stderr=subprocess.STDOUT, cwd=recorded["home"])
    try:
        deadline = time.monotonic() + 120
        while not answers(service.health_url):
            assert proc.poll() is None, f"the lineage page exited: {service.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no answer from {service.health_url}: {service.log.read_text()}"
            time.sleep(0.3)
        yield service.url
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian's chromium and chromium-driver; `make test` installs them)")
    os.environ["SE_AVOID_STATS"] = "true"  # Selenium reports no usage statistics
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    # The driver named: Selenium Manager never runs, so nothing is looked up or downloaded.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_url(driver, part: str) -> None:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(expected_conditions.url_contains(part))


def cells(driver, table: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, f"table#{table} tr")
    return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows[1:]]


def test_a_kept_document_leads_to_its_model_version_whose_documents_filter_and_page(browser, page, recorded):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    driver.get(page + "/")
    assert f"{MODEL} version 1" in driver.find_element(By.ID, "versions").text
    driver.find_element(By.ID, "q").send_keys(str(KEPT))
    driver.find_element(By.ID, "find").click()
    wait_for_url(driver, "/documents?q=")

    ((dataset_id, doc_id, source, status, *_),) = cells(driver, "datasets")
    assert (dataset_id, status, source) == (recorded["dataset_id"], "kept", "file://" + str(KEPT.resolve()))
    link = driver.find_element(By.LINK_TEXT, f"{MODEL} version 1")
    link.click()
    wait_for_url(driver, f"/models/{MODEL}/1")

    ledger = pl.read_parquet(recorded["ledger"])
    assert driver.find_element(By.ID, "ledger-check").text == "matches the model version's tag"
    counts = {(row[0], row[2]): int(row[3]) for row in cells(driver, "counts") if row[2]}
    expected = ledger.filter(pl.col("status") != "kept").group_by("status", "reason").len().iter_rows()
    assert counts == {(status, reason): n for status, reason, n in expected}

    Select(driver.find_element(By.NAME, "status")).select_by_visible_text("dropped")
    driver.find_element(By.ID, "apply").click()
    wait_for_url(driver, "status=dropped")
    dropped = ledger.filter(pl.col("status") == "dropped")
    pages = math.ceil(dropped.height / PAGE_SIZE)
    assert pages >= 2, "the demo corpus drops enough documents for two pages"
    assert driver.find_element(By.ID, "showing").text.endswith(f"page 1 of {pages}")
    first = cells(driver, "documents")
    assert len(first) == PAGE_SIZE and {row[2] for row in first} == {"dropped"}

    driver.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
    wait_for_url(driver, "page=2")
    assert "status=dropped" in driver.current_url
    second = cells(driver, "documents")
    assert driver.find_element(By.ID, "showing").text.endswith(f"page 2 of {pages}")
    assert {row[2] for row in second} == {"dropped"} and len(second) == min(PAGE_SIZE, dropped.height - PAGE_SIZE)
    assert not {row[0] for row in first} & {row[0] for row in second}

    version = mlflow.tracking.MlflowClient().get_model_version(MODEL, "1")
    to_version = driver.find_element(By.ID, "mlflow-version").get_attribute("href")
    assert to_version == f"{MLFLOW_UI}/#/models/{MODEL}/versions/1"
    assert driver.find_element(By.ID, "mlflow-run").get_attribute("href").endswith(f"/runs/{version.run_id}")
    to_flow_run = driver.find_element(By.ID, "prefect-flow-run").get_attribute("href")
    assert to_flow_run == f"{PREFECT_UI}/runs/flow-run/{version.tags['prefect_flow_run_id']}"


def test_a_duplicate_names_its_survivor_and_reached_no_model(browser, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    driver.get(page + f"/models/{MODEL}/1")
    search = driver.find_element(By.CSS_SELECTOR, "header input[name=q]")  # the search box on every page
    search.send_keys(str(DUPLICATE), Keys.ENTER)
    wait_for_url(driver, "/documents?q=")
    ((*_, status, stage, reason, detail),) = cells(driver, "datasets")
    assert (status, stage, reason) == ("dropped", "dedup", "exact_duplicate")
    assert "file://" + str(SURVIVOR.resolve()) in detail
    assert driver.find_element(By.ID, "none").text.startswith("None")

    driver.find_element(By.CSS_SELECTOR, "table#datasets td a").click()  # to the survivor
    wait_for_url(driver, "/documents?q=")
    ((*_, source, status, _, _, _),) = cells(driver, "datasets")
    assert (source, status) == ("file://" + str(SURVIVOR.resolve()), "kept")
    assert driver.find_element(By.LINK_TEXT, f"{MODEL} version 1")


def test_markup_typed_into_the_search_box_shows_as_text(browser, page):
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(page + "/")
    driver.find_element(By.ID, "q").send_keys('<img src=x onerror="document.title=1">')
    driver.find_element(By.ID, "find").click()
    wait_for_url(driver, "/documents?q=")
    assert "<img src=x" in driver.find_element(By.ID, "error").text
    assert driver.find_elements(By.TAG_NAME, "img") == [] and driver.title != "1"


def test_paths_reasons_and_details_are_escaped_in_the_html():
    hostile = '"><script>alert(1)</script>'
    answer = {
        "query": hostile,
        "matched_by": "path",
        "datasets": [
            {"dataset_id": "ds-1", "doc_id": "ab" * 8, "source_uri": "file:///x/" + hostile, "raw_sha256": "0" * 64}
            | {"status": "quarantined", "stage": "ingest", "reason": hostile, "detail": hostile}
        ],
        "model_versions": [{"name": hostile, "version": "1", "dataset_id": "ds-1", "aliases": [hostile], "via": None}],
    }
    html = render("document", title=hostile, r=answer, links=Links(mlflow=MLFLOW_UI))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert f'href="{MLFLOW_UI}/#/models/%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E/versions/1"' in html


def test_health_unknown_versions_and_foreign_hosts(page):
    status, body, _ = fetch(page + "/health")
    assert (status, body) == (200, '{"status":"ok"}')
    status, body, headers = fetch(page + f"/models/{MODEL}/99")
    assert status == 404 and "no registered model version" in body
    assert "default-src 'none'" in headers["content-security-policy"]
    assert fetch(page + "/models/no-such-model/1")[0] == 404
    assert fetch(page + f"/models/{MODEL}/1?status=maybe")[0] == 400
    assert fetch(page + "/documents?q=/dev/zero")[0] == 400  # a device is never read as a document
    # A page elsewhere whose name was rebound to 127.0.0.1 gets nothing.
    assert fetch(page + "/", host="attacker.example")[0] == 400


def test_forge_ui_starts_the_lineage_page_linked_to_both_uis(tmp_path, monkeypatch):
    started: list[ui.Service] = []
    monkeypatch.setattr(ui, "supervise", lambda services, command, on_ready: started.extend(services) or 0)
    assert ui.serve(Workspace(str(tmp_path / "ws")), prefect_port=4201, mlflow_port=5001, lineage_port=5051) == 0
    prefect, mlflow_server, lineage = started
    assert [s.name for s in started] == ["Prefect", "MLflow", "Lineage"]
    assert (lineage.url, lineage.health_url) == ("http://127.0.0.1:5051", "http://127.0.0.1:5051/health")
    command = " ".join(lineage.command)
    assert "-m forge.services.lineage_page" in command and "--port 5051" in command
    assert f"--prefect-url {prefect.url} --mlflow-url {mlflow_server.url}" in command

    started.clear()  # runs on servers of the team's: only the page starts, and links to their UIs
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4300/api")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5300")
    ui.serve(Workspace(str(tmp_path / "ws")))
    ((lineage,),) = [started]
    assert "--prefect-url http://127.0.0.1:4300 --mlflow-url http://127.0.0.1:5300" in " ".join(lineage.command)

    with pytest.raises(ServiceError, match="--mlflow-port and --lineage-port are both 5000"):
        ui.serve(Workspace(str(tmp_path / "ws")), lineage_port=5000)
    assert "--lineage-port" in CliRunner().invoke(app, ["ui", "--help"], terminal_width=200).output
