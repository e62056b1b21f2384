"""Score PII redaction on the labelled documents in this folder.

documents/*.txt are realistic enterprise documents (tickets, e-mails, HR notes, invoices, logs, config
files) with planted PII; labels.jsonl holds, per document, the exact planted values with their type
and the decoys that must survive (dates, versions, order ids, Luhn-failing card-like numbers, IBANs
with a wrong checksum, SSNs with an invalid area, ...):

    {"document": "01_support_ticket_billing.txt", "pii": [["email", "..."], ...], "decoys": [["date", "..."], ...]}

recall = planted values no longer present in the redacted text / planted values
decoy survival = decoys still present verbatim / decoys

Used by tests/test_pii.py and importable by a benchmark (load this file by path, it needs only forge_core):

    spec = importlib.util.spec_from_file_location("pii_score", "tests/data/pii/score.py")
"""

from __future__ import annotations

import json
from pathlib import Path

from forge_core.clean.pii import TYPES, PiiConfig, redact

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels.jsonl"


def labelled_documents(labels: Path = LABELS) -> list[dict]:
    """Each label line with its document's text under "text"."""
    docs = []
    for line in labels.read_text(encoding="utf-8").splitlines():
        if line.strip():
            label = json.loads(line)
            label["text"] = (labels.parent / "documents" / label["document"]).read_text(encoding="utf-8")
            docs.append(label)
    return docs


def score_labelled_set(cfg: PiiConfig | None = None, labels: Path = LABELS) -> dict:
    """Per-type recall and per-kind decoy survival of `redact` with every type on redact (or cfg).

    Returns {"recall": {type: {"planted", "removed", "rate"}}, "decoys": {kind: {"total", "survived",
    "rate"}}, "overall": {"recall", "decoy_survival", "documents"}, "missed": [...], "eaten": [...]}.
    """
    cfg = cfg or PiiConfig(**dict.fromkeys(TYPES, "redact"))
    recall = {kind: {"planted": 0, "removed": 0} for kind in TYPES}
    decoys: dict[str, dict[str, int]] = {}
    missed, eaten = [], []
    docs = labelled_documents(labels)
    for doc in docs:
        redacted, _ = redact(doc["text"], cfg)
        for kind, value in doc["pii"]:
            recall[kind]["planted"] += 1
            if value in redacted:
                missed.append((doc["document"], kind, value))
            else:
                recall[kind]["removed"] += 1
        for kind, value in doc["decoys"]:
            tally = decoys.setdefault(kind, {"total": 0, "survived": 0})
            tally["total"] += 1
            if value in redacted:
                tally["survived"] += 1
            else:
                eaten.append((doc["document"], kind, value))
    for tally in recall.values():
        tally["rate"] = tally["removed"] / tally["planted"] if tally["planted"] else 1.0
    for tally in decoys.values():
        tally["rate"] = tally["survived"] / tally["total"]
    planted = sum(t["planted"] for t in recall.values())
    total_decoys = sum(t["total"] for t in decoys.values())
    overall = {
        "documents": len(docs),
        "recall": sum(t["removed"] for t in recall.values()) / planted,
        "decoy_survival": sum(t["survived"] for t in decoys.values()) / total_decoys,
    }
    return {"recall": recall, "decoys": decoys, "overall": overall, "missed": missed, "eaten": eaten}


def format_scores(scores: dict) -> str:
    """The figures as a small table, for pytest -s and for benchmarks."""
    lines = [f"{'type':<14}{'planted':>8}{'removed':>8}{'recall':>8}"]
    for kind, t in scores["recall"].items():
        lines.append(f"{kind:<14}{t['planted']:>8}{t['removed']:>8}{t['rate']:>8.3f}")
    decoys = scores["decoys"]
    total = sum(t["total"] for t in decoys.values())
    survived = sum(t["survived"] for t in decoys.values())
    lines.append(f"{'decoys':<14}{total:>8}{survived:>8}{scores['overall']['decoy_survival']:>8.3f}  (survival)")
    lines.append(
        f"overall: {scores['overall']['documents']} documents, recall {scores['overall']['recall']:.3f}, "
        f"decoy survival {scores['overall']['decoy_survival']:.3f}"
    )
    for doc, kind, value in scores["missed"]:
        lines.append(f"  missed {kind}: {value!r} in {doc}")
    for doc, kind, value in scores["eaten"]:
        lines.append(f"  eaten decoy ({kind}): {value!r} in {doc}")
    return "\n".join(lines)


if __name__ == "__main__":  # python tests/data/pii/score.py (benchmarks/curation.py runs it so)
    print(format_scores(score_labelled_set()))
