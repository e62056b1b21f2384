"""The workspace's journal: publish, register and erase events, each entry hashing the one before.

One JSON object a line in <workspace>/journal.jsonl: `seq`, `time`, `kind`, the event's fields,
`prev` (the previous entry's `hash`; zeros for the first) and `hash` (sha256 of the entry without
its `hash`, written canonically). Editing, deleting or reordering any entry breaks the chain at
that entry, and `verify_journal` says where. Appends are serialized by the workspace lock
`journal`. The journal proves the order and content of what was recorded; it cannot stop someone
who rewrites the whole chain from the start (a copy of the last `hash` kept elsewhere, or the
model signatures, can).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from forge_core.integrity.digests import digest_of
from forge_core.io.workspace import Workspace

GENESIS = "0" * 64
JOURNAL = "journal.jsonl"


def journal_path(ws: Workspace) -> str:
    return ws.path(JOURNAL)


def read_entries(ws: Workspace) -> list[str]:
    """The journal's lines, as written (empty when there is none)."""
    path = journal_path(ws)
    if not ws.exists(path):
        return []
    with ws.fs.open(path, "rb") as f:
        return [line for line in f.read().decode("utf-8", errors="replace").splitlines() if line.strip()]


def append(ws: Workspace, kind: str, **fields: Any) -> dict[str, Any]:
    """Add one event after the last, chained to it; returns the entry as written."""
    with ws.lock("journal"):
        lines = read_entries(ws)
        prev, seq = GENESIS, 1
        if lines:
            try:
                last = json.loads(lines[-1])
                prev, seq = last["hash"], int(last["seq"]) + 1
            except (ValueError, KeyError, TypeError):
                prev, seq = digest_of(lines[-1]), len(lines) + 1  # chain on, verify reports the bad line
        entry = {"seq": seq, "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "kind": kind, **fields}
        entry["prev"] = prev
        entry["hash"] = digest_of(entry)
        line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
        if ws.is_local:
            with open(journal_path(ws), "a", encoding="utf-8") as f:
                f.write(line)
        else:  # an object store has no append: the whole journal is written again (it is small)
            ws.write_text(journal_path(ws), "".join(f"{existing}\n" for existing in lines) + line)
        return entry


def verify_journal(ws: Workspace) -> tuple[list[dict[str, Any]], list[str]]:
    """The entries that verify, and one message per entry that does not (with its line number)."""
    good: list[dict[str, Any]] = []
    problems: list[str] = []
    prev = GENESIS
    for number, line in enumerate(read_entries(ws), start=1):
        where = f"{ws.display(journal_path(ws))} line {number}"
        try:
            entry = json.loads(line)
        except ValueError:
            problems.append(f"{where}: not valid JSON (edited?)")
            prev = digest_of(line)
            continue
        claimed = entry.get("hash")
        body = {k: v for k, v in entry.items() if k != "hash"}
        what = f"{where}: entry {entry.get('seq')} ({entry.get('kind')})"
        if digest_of(body) != claimed:
            problems.append(f"{what} does not hash to its recorded hash (edited?)")
        elif entry.get("prev") != prev:
            problems.append(f"{what} does not follow the entry before it (one removed or reordered?)")
        else:
            good.append(entry)
        prev = claimed if isinstance(claimed, str) else digest_of(line)
    return good, problems
