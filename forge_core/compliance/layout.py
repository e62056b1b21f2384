"""An audit's facts laid out for people: the same blocks written as Markdown or as one HTML page.

The JSON is the source: this module only gives its sections their titles (the EU AI Act's
structure) and its fields their labels, and writes each fact as a row of item, value and record.
A list of rows (sources, steps, languages) becomes a table of its own under its item's label.
The records the citations name are listed last, with their digests or ids.
"""

from __future__ import annotations

import html
from typing import Any

from forge_core.compliance import TO_BE_SUPPLIED
from forge_core.compliance.citations import NOT_RECORDED

PARTS = {
    "model": "Model",
    "public_summary": "Part 1. Public summary of training content (AI Act Art. 53(1)(d), the AI Office's template)",
    "public_summary.general": "1. General information",
    "public_summary.sources": "2. List of data sources",
    "public_summary.processing": "3. Data processing",
    "technical_documentation": "Part 2. Technical documentation (AI Act Annex XI, Section 1)",
    "technical_documentation.general": "1. General description",
    "technical_documentation.design": "2(b). Design specifications",
    "technical_documentation.training": "2(b). Training methodology",
    "technical_documentation.data": "2(c). Data for training, testing and validation",
    "technical_documentation.compute": "2(d). Computational resources",
    "technical_documentation.energy": "2(e). Energy consumption",
    "lineage": "Part 3. Lineage",
    "dataset": "Dataset",
    "sources": "Data sources",
    "processing": "Data processing",
}

LABELS = {
    "acceptable_use": "acceptable use policy",
    "base_model": "base model it depends on",
    "categories": "sources by category",
    "code_version": "code version",
    "context_length": "context length (tokens)",
    "dataset_manifest_sha256": "dataset manifest sha256",
    "dataset_published": "dataset version published (latest data collection)",
    "device_hours": "device-hours",
    "energy_kwh": "energy (kWh)",
    "fine_tuned_from": "fine-tuned from",
    "flops_per_token": "training FLOPs per token",
    "given": "sources as given",
    "inputs_and_outputs": "inputs and outputs",
    "intended_use": "intended use",
    "largest": "largest sources",
    "ledger_sha256": "ledger sha256",
    "measure": "share measured in",
    "pii": "personal data found, by type",
    "power_watts": "power per device (W)",
    "removals": "steps that removed content",
    "run_seconds": "training run (s)",
    "size_band": "training data size band",
    "steps_that_removed_nothing": "steps that ran and removed nothing",
    "stopped_by": "stopped by",
    "tokens_processed": "tokens processed",
    "training_flops": "training FLOPs",
    "training_loop_seconds": "training loop alone (s)",
    "training_run": "training run (MLflow)",
    "training_tokens": "training data size (tokens)",
    "validation": "validation gates",
    "weights_sha256": "weights sha256",
}


def label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " "))


def is_fact(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node and ("cite" in node or "person" in node or "missing" in node)


def number(value: Any, key: str = "") -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if key.endswith("share"):
            return f"{value:.2%}"
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.4e}"
    return str(value)


def inline(value: Any, key: str = "") -> str:
    """A value as one line of text: numbers grouped, shares as percentages, mappings as k: v."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {inline(v, str(k))}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(inline(v, key) for v in value)
    return number(value, key)


def citation(node: dict[str, Any]) -> str:
    if "person" in node and not node.get("cite"):
        return f"supply it as {node['person']}"
    if "missing" in node:
        return node["missing"]
    return "; ".join(f"{c['record']} › {c['at']}" for c in node.get("cite", []))


def value_text(key: str, node: dict[str, Any]) -> str:
    text = inline(node["value"], key)
    for extra in ("formula", "note"):
        if node.get(extra):
            text += f" ({extra}: {node[extra]})"
    return text


# Blocks: ("h", level, text) | ("p", text) | ("table", headers, rows) ----------------------------
def section_blocks(path: str, section: dict[str, Any], level: int) -> list[tuple]:
    blocks: list[tuple] = [("h", level, PARTS.get(path, label(path.rsplit(".", 1)[-1])))]
    rows, lists = [], []
    for key, node in section.items():
        if is_fact(node):
            if isinstance(node["value"], list) and node["value"] and isinstance(node["value"][0], dict):
                lists.append((key, node))
            else:
                rows.append([label(key), value_text(key, node), citation(node)])
        elif isinstance(node, dict):
            lists.append((key, node))
    if rows:
        blocks.append(("table", ["item", "value", "record"], rows))
    for key, node in lists:
        if is_fact(node):
            blocks.append(("h", level + 1, label(key)))
            blocks += table_of(node["value"])
            blocks.append(("p", f"Records: {citation(node)}."))
        else:
            blocks += section_blocks(f"{path}.{key}", node, level + 1)
    return blocks


def table_of(rows: list[dict[str, Any]]) -> list[tuple]:
    headers = list(rows[0])
    return [("table", [h.replace("_", " ") for h in headers], [[inline(r.get(h), h) for h in headers] for r in rows])]


def records_blocks(records: dict[str, dict[str, Any]], level: int) -> list[tuple]:
    rows = []
    for key, entry in records.items():
        kind = entry["kind"]
        if kind == "workspace files":
            where = ", ".join(f"{f['path']} (sha256 {f['sha256']})" for f in entry["files"])
            proof = f"{len(entry['files'])} files"
        elif kind == "mlflow run":
            where, proof = f"run {entry['run_id']} ({entry['run_name']})", "run id"
        elif kind == "mlflow artifact":
            where, proof = f"run {entry['run_id']}, artifact {entry['path']}", f"sha256 {entry['sha256']}"
        elif kind == "mlflow model version":
            where, proof = f"registered model {entry['name']} version {entry['version']}", "name and version"
        else:
            where, proof = entry["path"], f"sha256 {entry['sha256']}"
        rows.append([key, kind, where, proof])
    return [("h", level, "Records cited"), ("table", ["record", "kind", "where", "proof"], rows)]


def audit_blocks(audit: dict[str, Any]) -> list[tuple]:
    name, version = audit["model"]["name"]["value"], audit["model"]["version"]["value"]
    blocks: list[tuple] = [
        ("h", 1, f"Documentation of {name} version {version}"),
        (
            "p",
            "Written by `forge audit` from Forge's records only: each figure names the record it was read from "
            "(listed at the end, with its sha256 or MLflow id). A field only a person can supply reads "
            f'"{TO_BE_SUPPLIED}" until the `compliance:` section of the config gives it; a figure no record '
            f'holds reads "{NOT_RECORDED}", with the reason.',
        ),
    ]
    for part in ("public_summary", "technical_documentation", "lineage"):
        blocks += section_blocks(part, audit[part], 2)
    return blocks + records_blocks(audit["records"], 2)


# Writers -----------------------------------------------------------------------------------------
def md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[tuple]) -> str:
    out: list[str] = []
    for block in blocks:
        if block[0] == "h":
            out += [f"{'#' * block[1]} {block[2]}", ""]
        elif block[0] == "p":
            out += [block[1], ""]
        else:
            headers, rows = block[1], block[2]
            out.append("| " + " | ".join(headers) + " |")
            out.append("|" + " --- |" * len(headers))
            out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.4}"
    "table{border-collapse:collapse;margin:0.5rem 0 1rem;width:100%}"
    "th,td{border:1px solid #ccc;padding:0.25rem 0.5rem;text-align:left;vertical-align:top;word-break:break-word}"
    "th{background:#f3f3f3}"
)


def to_html(blocks: list[tuple], title: str) -> str:
    out = [
        "<!doctype html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>',
        "<body>",
    ]
    for block in blocks:
        if block[0] == "h":
            out.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
        elif block[0] == "p":
            out.append(f"<p>{html.escape(block[1])}</p>")
        else:
            out.append("<table>")
            out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block[1]) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block[2]]
            out.append("</table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def audit_markdown(audit: dict[str, Any]) -> str:
    return to_markdown(audit_blocks(audit))


def audit_html(audit: dict[str, Any]) -> str:
    name, version = audit["model"]["name"]["value"], audit["model"]["version"]["value"]
    return to_html(audit_blocks(audit), f"Documentation of {name} version {version}")
