"""Hostile input cannot stall or crash a run: every such file ends as a ledger row with its reason,
the good files around it are kept, and no regex of the readers or the cleaning rules backtracks
without end on a long adversarial string.

Nothing here asserts a duration: a hang is the failure, caught by a generous timeout (a subprocess's
or signal.alarm's) so that it fails the test instead of blocking CI.
"""

from __future__ import annotations

import ast
import importlib
import json
import operator
import pkgutil
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
from documents import docx_bytes, pdf_bytes, write
from flow_runs import WEB_RULES_OFF, ledger, run_curate, uri
from hostile import PROSE, deep_html, docx_bomb, hog, many_pages_pdf, one_line_text, symlink_loop

import forge_core.clean
import forge_core.readers
from forge_core.config import IngestConfig
from forge_core.ingest import ingest_shard
from forge_core.io.sources import discover, fingerprint
from forge_core.io.workspace import Workspace
from forge_core.readers.dispatch import read_records
from forge_core.readers.extracted import Unreadable
from forge_core.readers.limits import LimitsConfig, Watchdog, close_kept, kept_watchdog


@contextmanager
def deadline(seconds: int):
    """Fail (not block) if the body has not finished after `seconds`; main thread only."""

    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def prose(seed: int, n: int = 150) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(PROSE) + (str(rng.randint(0, 9)) if rng.random() < 0.3 else "") for _ in range(n))


# The hostile folder -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    write(root / "good" / "policy.txt", prose(1) + ".")
    write(root / "good" / "notes.md", "# Notes\n\n" + prose(2) + ".")
    write(root / "good" / "page.html", f"<html><body><main><h1>Calibration</h1><p>{prose(3)}.</p></main></body></html>")
    write(root / "good" / "spec.docx", docx_bytes([prose(4) + "."]))
    write(root / "good" / "report.pdf", pdf_bytes([prose(5, 60) + ".", prose(6, 60) + "."]))
    write(root / "deep.html", deep_html())
    write(root / "one_line.txt", one_line_text())
    write(root / "bomb.docx", docx_bomb())
    write(root / "pages.pdf", many_pages_pdf())
    symlink_loop(root / "links")
    return root


@pytest.fixture(scope="module")
def result(folder, tmp_path_factory) -> dict:
    with deadline(900):  # the target is under 60 s on 2 cores; this only catches a hang
        start = time.perf_counter()
        out = run_curate([folder], tmp_path_factory.mktemp("ws"), processes=True, clean=WEB_RULES_OFF)
        print(f"\nhostile folder curated in {time.perf_counter() - start:.1f} s")
        return out


EXPECTED = {
    "deep.html": ("quarantined", "html_too_deep", "ingest.limits.html_max_depth = 256"),
    "bomb.docx": ("quarantined", "decompression_bomb", "ingest.limits.zip_max_ratio = 200"),
    "pages.pdf": ("quarantined", "too_many_pages", "ingest.limits.pdf_max_pages = 2000"),
    "one_line.txt": ("dropped", "too_long", "clean.length.max_words"),
    "links/loop_a": ("quarantined", "unreadable_file", "Too many levels of symbolic links"),
    "links/loop_b": ("quarantined", "unreadable_file", "Too many levels of symbolic links"),
    "links/up": ("quarantined", "unreadable_file", "Is a directory"),
}
GOOD = ["good/policy.txt", "good/notes.md", "good/page.html", "good/spec.docx", "good/report.pdf"]


@pytest.mark.slow
def test_every_hostile_file_ends_in_the_ledger_with_its_reason(result, folder):
    rows = {r["source_uri"]: r for r in ledger(result).iter_rows(named=True)}
    for name, (status, reason, detail) in EXPECTED.items():
        parent, _, leaf = name.rpartition("/")
        row = rows[f"{uri(folder / parent)}/{leaf}" if parent else uri(folder / name)]  # a link is not resolved
        assert (row["status"], row["reason"]) == (status, reason), name
        assert detail in row["detail"], (name, row["detail"])


@pytest.mark.slow
def test_the_good_files_around_them_are_kept(result, folder):
    rows = ledger(result)
    kept = set(rows.filter(pl.col("status") == "kept")["source_uri"])
    assert kept == {uri(folder / name) for name in GOOD}
    # ingested = kept + dropped + quarantined: one row per file, every file of the folder
    assert rows.height == len(GOOD) + len(EXPECTED)
    assert rows["source_uri"].n_unique() == rows.height


# The budget, one limit at a time ------------------------------------------------------------------
def test_a_reader_over_its_time_is_stopped_and_the_next_file_is_read():
    with Watchdog(LimitsConfig(seconds=1)) as watchdog:
        with pytest.raises(Unreadable) as err:
            watchdog.call(time.sleep, 120)
        assert err.value.reason == "extraction_timeout"
        assert "ingest.limits.seconds = 1" in err.value.detail
        assert watchdog.call(operator.add, 2, 3) == 5  # a fresh helper
        assert watchdog.starts == 2


def test_a_file_over_its_time_is_quarantined_and_the_shard_reads_on(tmp_path):
    """30,000 pages allowed but 1 s to read them (it takes ten or more): the PDF is stopped, the files around
    it are read."""
    cfg = IngestConfig.model_validate({"limits": {"seconds": 1, "pdf_max_pages": 100_000}})
    files = [
        write(tmp_path / "a.txt", prose(1)),
        write(tmp_path / "b.pdf", pdf_bytes(["some words on a page"] * 30_000)),
        write(tmp_path / "c.txt", prose(2)),
    ]
    ws = Workspace(str(tmp_path / "ws"))
    with deadline(300):
        counts = ingest_shard(ws, f"{ws.root}/out", fingerprint(discover([str(f) for f in files])), cfg)
    docs = pl.read_parquet(f"{ws.root}/out/docs.parquet")
    [row] = pl.read_parquet(f"{ws.root}/out/ledger.parquet").to_dicts()
    assert sorted(docs["source_uri"]) == [uri(files[0]), uri(files[2])]
    assert (row["source_uri"], row["reason"]) == (uri(files[1]), "extraction_timeout")
    assert "ingest.limits.seconds = 1" in row["detail"]
    assert counts.counts["quarantined.extraction_timeout"] == 1


def test_a_kept_helper_serves_the_next_shards_reads_them_alike_and_stops_when_told(tmp_path):
    """A run's shards share their thread's helper (one start, not one per shard), read what a helper
    of their own reads, still stop a file over budget with a fresh helper after it, and close_kept
    leaves no helper running."""
    import psutil

    cfg = IngestConfig.model_validate({"limits": {"seconds": 1, "pdf_max_pages": 100_000}})
    first = [write(tmp_path / "a.txt", prose(1)), write(tmp_path / "b.html", f"<p>{prose(2)}</p>")]
    second = [
        write(tmp_path / "c.pdf", pdf_bytes(["some words on a page"] * 30_000)),  # over its second
        write(tmp_path / "d.txt", prose(3)),
    ]
    ws = Workspace(str(tmp_path / "ws"))

    def read(files, out, keep):
        counts = ingest_shard(ws, f"{ws.root}/{out}", fingerprint(discover([str(f) for f in files])), cfg, None, keep)
        docs = pl.read_parquet(f"{ws.root}/{out}/docs.parquet").drop("text").hash_rows().to_list()
        texts = pl.read_parquet(f"{ws.root}/{out}/docs.parquet")["text"].to_list()
        ledger_rows = pl.read_parquet(f"{ws.root}/{out}/ledger.parquet").to_dicts()
        return counts, docs, texts, ledger_rows

    close_kept()
    try:
        with deadline(300):
            kept_first = read(first, "k1", True)
            dog = kept_watchdog(cfg.limits, (read_records.__module__,))
            helper = psutil.Process(dog._proc.pid)
            kept_second = read(second, "k2", True)
            assert kept_watchdog(cfg.limits, (read_records.__module__,)) is dog
            assert dog.starts == 2  # one for both shards, and one after the PDF over its time
            assert not helper.is_running() or helper.status() == psutil.STATUS_ZOMBIE
            own_first, own_second = read(first, "o1", False), read(second, "o2", False)
        assert kept_first[1:] == own_first[1:] and kept_first[0].counts == own_first[0].counts
        assert kept_second[1:] == own_second[1:] and kept_second[0].counts == own_second[0].counts
        assert [r["reason"] for r in kept_second[3]] == ["extraction_timeout"]
        last = psutil.Process(dog._proc.pid)
    finally:
        assert close_kept() == 1
    assert not last.is_running() or last.status() == psutil.STATUS_ZOMBIE


def test_a_reader_over_its_memory_is_stopped():
    with Watchdog(LimitsConfig(memory_bytes=64 << 20)) as watchdog:
        with pytest.raises(Unreadable) as err:
            watchdog.call(hog, 4 << 30)
        assert err.value.reason == "extraction_memory"
        assert "ingest.limits.memory_bytes = 67108864" in err.value.detail


def test_a_reader_that_crashes_its_process_is_quarantined_not_the_worker():
    import os

    with Watchdog(LimitsConfig()) as watchdog:
        with pytest.raises(Unreadable) as err:
            watchdog.call(os.abort)
        assert err.value.reason == "extraction_crashed"
        assert "SIGABRT" in err.value.detail
        assert watchdog.call(operator.add, 1, 1) == 2


def test_a_reader_error_comes_back_as_itself():
    cfg = IngestConfig()
    with Watchdog(cfg.limits) as watchdog:
        with pytest.raises(Unreadable) as err:
            watchdog.call(read_records, "a.txt", b"abc\x00", cfg)
        assert err.value.reason == "binary_content"
        [record] = watchdog.call(read_records, "a.txt", "Café".encode(), cfg)
        assert record.text == "Café"


def test_html_deeper_than_the_limit_is_quarantined_and_within_it_read_in_linear_time():
    with pytest.raises(Unreadable) as err:
        read_records("deep.html", deep_html(), IngestConfig())
    assert err.value.reason == "html_too_deep"
    # Just within the limit, on the tag-based fallback (trafilatura finds no main content here).
    page = deep_html(250).replace(b"deep", b"Deep enough to read.")
    with deadline(60):
        [record] = read_records("ok.html", page, IngestConfig())
    assert record.text == "Deep enough to read."
    # A deeper limit reads a deeper page, fallback included, without recursion.
    deeper = IngestConfig.model_validate({"limits": {"html_max_depth": 200_000}})
    with deadline(120):
        [record] = read_records("deep.html", deep_html(), deeper)
    assert record.text == "deep"


def test_a_docx_over_the_uncompressed_size_is_a_decompression_bomb():
    cfg = IngestConfig.model_validate({"limits": {"zip_max_bytes": 10 << 20, "zip_max_ratio": 1e9}})
    with pytest.raises(Unreadable) as err:
        read_records("bomb.docx", docx_bomb(20 << 20), cfg)
    assert err.value.reason == "decompression_bomb"
    assert "ingest.limits.zip_max_bytes = 10485760" in err.value.detail


def test_a_docx_attached_to_an_email_is_checked_too():
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"] = "Prices"
    msg.set_content("See the attachment.")
    msg.add_attachment(docx_bomb(), maintype="application", subtype="octet-stream", filename="prices.docx")
    records = read_records("m.eml", msg.as_bytes(), IngestConfig())
    assert [r.reason for r in records] == [None, "decompression_bomb"]


def test_a_pdf_over_the_object_limit_is_quarantined():
    cfg = IngestConfig.model_validate({"limits": {"pdf_max_objects": 3}})
    with pytest.raises(Unreadable) as err:
        read_records("a.pdf", pdf_bytes(["one", "two"]), cfg)
    assert err.value.reason == "too_many_objects"
    assert "ingest.limits.pdf_max_objects = 3" in err.value.detail


# Regexes --------------------------------------------------------------------------------------------
PROBE_SECONDS = 60  # one probe: milliseconds when linear, so only a hang reaches it


def _modules() -> list:
    names = []
    for package in (forge_core.readers, forge_core.clean):
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return [importlib.import_module(name) for name in names]


def _patterns(value, depth: int = 0):
    if isinstance(value, re.Pattern):
        yield value
    elif depth < 3 and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _patterns(item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for item in value.values():
            yield from _patterns(item, depth + 1)


def regexes() -> dict[str, tuple[str, int, set[str]]]:
    """Every Python `re` pattern of the readers and the cleaning rules (polars' patterns run on Rust's
    regex crate, which is linear by construction): the compiled ones a module holds, also inside lists
    and tables, and the literals of re.sub(...), re.match(...) and the like. Each is probed with
    finditer (what search, sub, findall and match at any position cost at most), and with fullmatch
    where the code fullmatches it."""
    found: dict[str, tuple[str, int, set[str]]] = {}  # pattern: (where, flags, modes)
    for module in _modules():
        source = Path(module.__file__).read_text(encoding="utf-8")
        fullmatched = set()
        literals = []
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            target = node.func.value
            if node.func.attr == "fullmatch" and isinstance(target, ast.Name) and target.id != "re":
                fullmatched.add(target.id)
            if isinstance(target, ast.Name) and target.id == "re" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    literals.append((f"{module.__name__}:{node.lineno}", first.value, node.func.attr == "fullmatch"))
        for name, value in vars(module).items():
            mode = {"finditer", "fullmatch"} if name in fullmatched else {"finditer"}
            for rx in _patterns(value):
                where, _, modes = found.get(rx.pattern, (f"{module.__name__}.{name}", rx.flags, set()))
                found[rx.pattern] = (where, rx.flags, modes | mode)
        for where, pattern, full in literals:  # re.compile's own literal is the module-level pattern above
            where, flags, modes = found.get(pattern, (where, 0, set()))
            found[pattern] = (where, flags, modes | {"finditer"} | ({"fullmatch"} if full else set()))
    return found


def test_the_regex_inventory_finds_the_patterns_it_should():
    where = {name for name, _, _ in regexes().values()}
    for expected in ("forge_core.clean.pii.credentials.TOKENS", "forge_core.readers.mail.ATTRIBUTION"):
        assert expected in where
    assert len(where) > 50


def test_no_regex_backtracks_without_end_on_long_adversarial_strings():
    """Each probe takes milliseconds on a linear pattern; one still running after PROBE_SECONDS hangs
    (before their fixes, clean.junk.logs.LOG_LINE, credentials.PRIVATE_KEY_BODY and the e-mail
    reader's FORWARD_SUBJECT and ORIGINAL_MESSAGE did, on a run of blanks, letters or dashes)."""
    found = regexes()
    lines = "".join(json.dumps([where, p, flags, sorted(modes)]) + "\n" for p, (where, flags, modes) in found.items())
    probe = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("hostile.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    progress: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [progress.put(line) for line in probe.stdout], daemon=True).start()
    probe.stdin.write(lines)
    probe.stdin.close()
    last = "(none yet)"
    try:
        while last != "done\n":
            try:
                last = progress.get(timeout=PROBE_SECONDS)
            except queue.Empty:
                pytest.fail(f"a regex is still running after {PROBE_SECONDS} s on a long adversarial string: {last}")
    finally:
        probe.kill()
        probe.wait()
