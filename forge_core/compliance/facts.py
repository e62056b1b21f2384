"""The facts of a model version's documentation, read only from what Forge recorded.

The layout follows the EU AI Act's obligations for general-purpose models: the public summary of
training content in the AI Office's template (general information, data sources, data
processing) and the technical documentation of Annex XI, Section 1 (design, training
methodology, data, computational resources, energy). Each figure is a fact that cites its
records (citations.py); what only a person can say comes from the `compliance:` section, or reads
"to be supplied". A dataset version's own facts (its documents, languages, sources and
processing) are gathered apart, for its card, which is written before any model exists.

Where the records are: the registered version's tags; the run the version points to (its
params, metrics, duration, and the artifacts evaluation/result.json and config/resolved.yaml);
the dataset version's files (stats.json, config.yaml, ledger.parquet, validation/*.json,
manifest.json, tokens/manifest.json and each token shard's index.parquet).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from forge_core.compliance import TO_BE_SUPPLIED, ComplianceConfig
from forge_core.compliance.citations import Records, fact, missing
from forge_core.compliance.energy import FORMULA, board_power, device_hours, energy_kwh
from forge_core.io.workspace import OBJECT_STORES, Workspace

FORMAT = "forge-audit/1"
# The AI Office template's bands for the size of a modality's training data.
SIZE_BANDS = [
    (10**9, "< 1B tokens"),
    (10**10, "1B-10B tokens"),
    (10**11, "10B-100B tokens"),
    (10**12, "100B-1T tokens"),
    (10**13, "1T-10T tokens"),
]
TOP_SOURCES = 10
UNDETERMINED = "und"  # ISO 639-2 for a language not identified
CARD_LANGUAGE_SHARE = 0.01  # a card lists the languages of at least 1% of the kept documents


class AuditError(LookupError):
    """A model version that cannot be documented from the records; the message says what is missing."""


def size_band(tokens: int) -> str:
    return next((band for limit, band in SIZE_BANDS if tokens < limit), "> 10T tokens")


def share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def significant(x: float, digits: int = 6) -> float:
    """x to a number of significant digits: a figure as precise as its inputs, whatever its scale."""
    return float(f"{x:.{digits}g}")


def flat(settings: Any, prefix: str = "") -> dict[str, Any]:
    """A config section as one level of dotted keys: limits.seconds, top_n_grams.2, ..."""
    if not isinstance(settings, dict):
        return {prefix or "value": settings}
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        out |= flat(value, name) if isinstance(value, dict) else {name: value}
    return out


# The dataset version ---------------------------------------------------------------------------
@dataclass
class Dataset:
    """A dataset version's records, read once and registered for citation."""

    ws: Workspace
    records: Records
    dataset_id: str
    folder: str
    stats: dict[str, Any]
    config: dict[str, Any]
    kept: pl.DataFrame  # doc_id, source_uri, language and the amount of text in `measure`
    measure: str  # tokens, or words when the version has no token files (yet)
    amount_cite: tuple[str, str]
    manifest: dict[str, Any] | None
    tokens: dict[str, Any] | None


def read_dataset(ws: Workspace, dataset_id: str, records: Records, as_published: bool = False) -> Dataset:
    """The version's records; as_published: only those that exist when it is published (its card is
    written then), so neither its token files nor its manifest, and its text measured in words."""
    folder = ws.dataset_dir(dataset_id)
    if not ws.exists(f"{folder}/stats.json"):
        why = "retired by an erasure" if ws.exists(f"{folder}/superseded.json") else "in another workspace?"
        raise AuditError(f"dataset version {dataset_id}: no stats.json in {ws.display(folder)} ({why})")

    def read(name: str) -> bytes:
        records.file(name, f"{folder}/{name}")
        with ws.fs.open(f"{folder}/{name}", "rb") as f:
            return f.read()

    stats = json.loads(read("stats.json"))
    config = yaml.safe_load(read("config.yaml")) or {}
    ledger = pl.read_parquet(read("ledger.parquet"), columns=["doc_id", "source_uri", "status", "language"])
    kept = ledger.filter(pl.col("status") == "kept").drop("status")
    manifest = None
    if not as_published and ws.exists(f"{folder}/manifest.json"):
        manifest = json.loads(read("manifest.json"))
    tokens = None
    indexes = sorted(ws.fs.glob(f"{folder}/tokens/part-*/index.parquet"))
    if not as_published and ws.exists(f"{folder}/tokens/manifest.json") and indexes:
        tokens = json.loads(read("tokens/manifest.json"))
        key = records.files("tokens/*/index.parquet", indexes)
        frames = []
        for path in indexes:
            with ws.fs.open(path, "rb") as f:
                frames.append(pl.read_parquet(f, columns=["doc_id", "length"]))
        amounts = pl.concat(frames).group_by("doc_id").agg(amount=pl.col("length").sum())
        measure, cite = "tokens", (key, "length by doc_id")
    else:
        shards = sorted(ws.fs.glob(f"{folder}/shards/*.parquet"))
        key = records.files("shards/*.parquet", shards)
        frames = []
        for path in shards:
            with ws.fs.open(path, "rb") as f:
                frames.append(pl.read_parquet(f, columns=["doc_id", "n_words"]))
        empty = pl.DataFrame(schema={"doc_id": pl.String, "n_words": pl.Int64})
        amounts = pl.concat(frames) if frames else empty
        amounts = amounts.group_by("doc_id").agg(amount=pl.col("n_words").sum())
        measure, cite = "words", (key, "n_words by doc_id")
    kept = kept.join(amounts, on="doc_id", how="left").with_columns(pl.col("amount").fill_null(0))
    return Dataset(ws, records, dataset_id, folder, stats, config, kept, measure, cite, manifest, tokens)


def source_groups(kept: pl.DataFrame) -> pl.DataFrame:
    """Each kept document's source: the folder of a local file, the bucket of an object, the domain
    of a URL (fragments such as #row=7 or an attachment's name are the document within a file)."""
    uri = pl.col("source_uri").str.replace(r"#.*$", "")
    scheme = uri.str.extract(r"^([A-Za-z][A-Za-z0-9+.-]*)://", 1).fill_null("file")
    host = uri.str.extract(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/]*)", 1).fill_null("")
    path = uri.str.replace(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*", "")
    category = (
        pl.when(scheme == "file")
        .then(pl.lit("local folders"))
        .when(scheme.is_in(sorted(OBJECT_STORES)))
        .then(pl.lit("object-store buckets"))
        .when(scheme.is_in(["http", "https"]))
        .then(pl.lit("web domains"))
        .otherwise(pl.lit("other locations"))
    )
    name = (
        pl.when(scheme == "file")
        .then(path.str.replace(r"/[^/]*$", ""))
        .when(scheme.is_in(["http", "https"]))
        .then(host)
        .otherwise(scheme + "://" + host)
    )
    return kept.with_columns(category=category, source=name)


def source_facts(ds: Dataset) -> dict[str, Any]:
    """Sources by category, and the largest ones by their share of the kept text."""
    m = ds.measure
    grouped = source_groups(ds.kept)
    total = int(grouped["amount"].sum())
    cites = [("ledger.parquet", "source_uri of status kept"), ds.amount_cite]
    by_category = (
        grouped.group_by("category")
        .agg(sources=pl.col("source").n_unique(), documents=pl.len(), amount=pl.col("amount").sum())
        .sort(["amount", "category"], descending=[True, False])
    )
    categories = [
        {"category": c, "sources": s, "documents": d, m: int(a), f"{m}_share": share(a, total)}
        for c, s, d, a in by_category.select("category", "sources", "documents", "amount").iter_rows()
    ]
    by_source = (
        grouped.group_by("category", "source")
        .agg(documents=pl.len(), amount=pl.col("amount").sum())
        .sort(["amount", "source"], descending=[True, False])
    )
    rows = by_source.select("source", "category", "documents", "amount").rows()
    largest = [
        {"source": s, "category": c, "documents": d, m: int(a), f"{m}_share": share(a, total)}
        for s, c, d, a in rows[:TOP_SOURCES]
    ]
    if len(rows) > TOP_SOURCES:
        rest = rows[TOP_SOURCES:]
        amount = sum(r[3] for r in rest)
        largest.append(
            {"source": f"the other {len(rest)} sources", "category": "-", "documents": sum(r[2] for r in rest)}
            | {m: int(amount), f"{m}_share": share(amount, total)}
        )
    out: dict[str, Any] = {}
    if ds.manifest is not None:  # a dataset card is written before its manifest
        out["given"] = fact(", ".join(ds.manifest.get("sources", [])), ("manifest.json", "sources"))
        out["files"] = fact(ds.manifest.get("files"), ("manifest.json", "files"))
    measure_note = (
        "tokens of each kept document in the token files"
        if m == "tokens"
        else "words of each kept document (the version has no token files of its own)"
    )
    out["measure"] = fact(measure_note, ds.amount_cite)
    out["categories"] = fact(categories, *cites)
    out["largest"] = fact(largest, *cites)
    return out


def language_facts(ds: Dataset) -> dict[str, Any]:
    m = ds.measure
    kept = ds.kept.with_columns(pl.col("language").fill_null(UNDETERMINED))
    total_docs, total = kept.height, int(kept["amount"].sum())
    table = (
        kept.group_by("language")
        .agg(documents=pl.len(), amount=pl.col("amount").sum())
        .sort(["documents", "language"], descending=[True, False])
    )
    rows = [
        {"language": lang, "documents": d, "documents_share": share(d, total_docs), m: int(a)}
        | {f"{m}_share": share(a, total)}
        for lang, d, a in table.select("language", "documents", "amount").iter_rows()
    ]
    return fact(rows, ("ledger.parquet", "language of status kept"), ds.amount_cite)


def card_languages(languages: list[dict[str, Any]]) -> list[str]:
    """The languages a card's metadata lists: identified, and at least 1% of the kept documents."""
    shown = [r for r in languages if r["language"] != UNDETERMINED and r["documents_share"] >= CARD_LANGUAGE_SHARE]
    return [r["language"] for r in shown]


def reason_steps() -> list[tuple[str, str]]:
    """(regex of a ledger reason, the cleaning step that records it), from the step list."""
    import re

    from forge_core.clean.pipeline import RULES

    return [
        (re.escape(r).replace("<n>", r"\d+").replace("<type>", r"[a-z_]+"), rule.name)
        for rule in RULES
        for r in rule.reasons
    ]


def step_of(reason: str, patterns: list[tuple[str, str]]) -> str | None:
    import re

    return next((step for pattern, step in patterns if re.fullmatch(pattern, reason)), None)


def processing_facts(ds: Dataset) -> dict[str, Any]:
    """Every step that removed content: what it removed, why, and under which settings."""
    by_reason: dict[str, dict[str, int]] = ds.stats.get("counts", {}).get("by_reason", {})
    cfg = ds.config
    patterns = reason_steps()
    clean_reasons: dict[str, dict[str, int]] = {}
    for reason, n in by_reason.get("dropped.clean", {}).items():
        clean_reasons.setdefault(step_of(reason, patterns) or "clean", {})[reason] = n

    rows: list[dict[str, Any]] = []
    cites: list[tuple[str, str]] = [("stats.json", "counts.by_reason")]
    quarantined = by_reason.get("quarantined.ingest", {})
    if quarantined:
        ingest = cfg.get("ingest", {})
        settings = {k: ingest.get(k) for k in ("max_file_bytes", "text_columns")}
        settings |= flat(ingest.get("limits", {}), "limits")
        rows.append(removal("ingest", "read", sum(quarantined.values()), "-", quarantined, settings))
        cites.append(("config.yaml", "ingest"))
    unchanged = []
    for step in ds.stats.get("steps", []):
        docs = step.get("docs_in", 0) - step.get("docs_out", 0)
        chars = step.get("chars_in", 0) - step.get("chars_out", 0)
        if not docs and not chars:
            unchanged.append(step["step"])
            continue
        settings = flat(cfg.get("clean", {}).get(step["step"], {}))
        rows.append(removal("clean", step["step"], docs, chars, clean_reasons.pop(step["step"], {}), settings))
    if ds.stats.get("steps"):
        cites += [("stats.json", "steps"), ("config.yaml", "clean")]
    for step, reasons in sorted(clean_reasons.items()):  # reasons of a step the step table lacks
        settings = flat(cfg.get("clean", {}).get(step, {}))
        rows.append(removal("clean", step, sum(reasons.values()), "-", reasons, settings))
    if dedup := by_reason.get("dropped.dedup", {}):
        rows.append(removal("dedup", "duplicates", sum(dedup.values()), "-", dedup, flat(cfg.get("dedup", {}))))
        cites.append(("config.yaml", "dedup"))
    handled = {"quarantined.ingest", "dropped.clean", "dropped.dedup"}
    for key in sorted(set(by_reason) - handled):
        status, _, stage = key.partition(".")
        reasons = by_reason[key]
        rows.append(removal(stage or status, status, sum(reasons.values()), "-", reasons, {}))

    counts = ds.stats.get("counts", {})
    balance = (
        f"{counts.get('ingested')} ingested = {counts.get('kept')} kept + {counts.get('dropped')} dropped + "
        f"{counts.get('quarantined')} quarantined"
    )
    out = {
        "documents": fact(balance, ("stats.json", "counts")),
        "profile": fact(cfg.get("clean", {}).get("profile", "-"), ("config.yaml", "clean.profile")),
        "removals": fact(rows or "none", *cites),
        "steps_that_removed_nothing": fact(unchanged or ["none"], ("stats.json", "steps")),
        "pii": pii_facts(ds),
        "validation": validation_facts(ds),
    }
    return out


def removal(stage: str, step: str, documents: int, characters: Any, reasons: dict[str, int], settings: dict) -> dict:
    return {
        "stage": stage,
        "step": step,
        "documents_removed": documents,
        "characters_removed": characters,
        "reasons": dict(sorted(reasons.items())) or "-",
        "settings": settings or "-",
    }


def pii_facts(ds: Dataset) -> dict[str, Any]:
    actions = ds.config.get("clean", {}).get("pii", {})
    rows = [
        {"type": r["type"], "found": r["found"], "documents": r["documents"], "action": actions.get(r["type"], "-")}
        for r in ds.stats.get("pii", [])
    ]
    if not rows:
        return missing("stats.json has no pii table (a version made before PII was counted)")
    return fact(rows, ("stats.json", "pii"), ("config.yaml", "clean.pii"))


def validation_facts(ds: Dataset) -> dict[str, Any]:
    gates = ds.stats.get("validation", {})
    rows, cites = [], [("stats.json", "validation")]
    order = ["ingested", "cleaned", "deduplicated"]
    for gate in sorted(gates, key=lambda g: (order.index(g) if g in order else len(order), g)):
        ok = gates[gate]
        row = {"gate": gate, "result": "skipped" if ok is None else "passed" if ok else "failed"}
        row |= {"checks": "-", "failed_checks": "-"}
        path = f"{ds.folder}/validation/{gate}.json"
        if ds.ws.exists(path):
            key = ds.records.file(f"validation/{gate}.json", path)
            saved = ds.ws.read_json(path) or {}
            checks = saved.get("checks", [])
            failed = [c["expectation"] for c in checks if not c.get("success")]
            row |= {"checks": len(checks), "failed_checks": failed or "none"}
            cites.append((key, "checks"))
        rows.append(row)
    if not rows:
        return fact([{"gate": "all", "result": "validation off"}], ("stats.json", "validation"))
    return fact(rows, *cites)


def dataset_facts(ds: Dataset) -> dict[str, Any]:
    """A dataset version's own facts: what its card says, and what a model's audit says of its data."""
    counts = ds.stats.get("counts", {})
    kind = ds.stats.get("kind", "documents")
    return {
        "dataset": {
            "dataset_id": fact(ds.dataset_id, ("stats.json", "dataset_id")),
            "kind": fact(kind_words(kind), ("stats.json", "kind")),
            "documents": fact(
                {k: counts.get(k) for k in ("ingested", "kept", "dropped", "quarantined")}, ("stats.json", "counts")
            ),
            "languages": language_facts(ds),
            "license": person_fact("license", None, ("config.yaml", ds.config.get("compliance") or {})),
        },
        "sources": source_facts(ds),
        "processing": processing_facts(ds),
    }


def kind_words(kind: str) -> str:
    return "text: conversations (chat)" if kind == "chat" else "text: documents"


def person_fact(
    field: str,
    supplied: tuple[str, dict[str, Any]] | None,
    recorded: tuple[str, dict[str, Any]] | None,
) -> dict[str, Any]:
    """A field only a person can supply: from the config given to the command, else from the config
    recorded with the run (or dataset), else "to be supplied". Each source is (record key, its
    compliance section)."""
    for source in (supplied, recorded):
        if source is not None and source[1].get(field) not in (None, ""):
            return fact(str(source[1][field]), (source[0], f"compliance.{field}"), person=f"compliance.{field}")
    return {"value": TO_BE_SUPPLIED, "person": f"compliance.{field}"}


# The model version -----------------------------------------------------------------------------
def audit_model(
    ws: Workspace,
    ref: str,
    supplied: ComplianceConfig | None = None,
    config_path: Path | None = None,
) -> dict[str, Any]:
    """The documentation of a registered model version (NAME, NAME:VERSION or NAME@ALIAS) as facts
    with citations; `supplied` is the compliance section of a config given to the command, which
    wins field by field over the one recorded with the training run."""
    from mlflow.tracking import MlflowClient

    from forge_core.lineage.queries import LineageError, resolve_model

    try:
        mv = resolve_model(ref)
    except LineageError as e:
        raise AuditError(str(e)) from None
    name, version, tags = mv.name, str(mv.version), dict(mv.tags)
    if tags.get("forge.kind") == "base":
        raise AuditError(
            f"{name} version {version} is an imported base model: Forge did not train it, so its provider's "
            "documentation applies; audit a version trained or fine-tuned from it"
        )
    if "dataset_id" not in tags:
        raise AuditError(f"{name} version {version} has no dataset_id tag: it was not registered by Forge")
    records = Records(ws)
    records.model_version("model version", name, version)
    run = MlflowClient().get_run(mv.run_id)
    records.run("run", run.info.run_id, run.info.run_name)
    result_bytes = records.artifact("run:evaluation/result.json", run.info.run_id, "evaluation/result.json")
    result = json.loads(result_bytes) if result_bytes else {}
    resolved_bytes = records.artifact("run:config/resolved.yaml", run.info.run_id, "config/resolved.yaml")
    resolved = (yaml.safe_load(resolved_bytes) or {}) if resolved_bytes else {}
    given = None
    if supplied is not None and config_path is not None:
        given = (records.config_file("config", config_path), supplied.model_dump(mode="json"))
    recorded = ("run:config/resolved.yaml", resolved.get("compliance") or {}) if resolved_bytes else None

    def person(field: str) -> dict[str, Any]:
        return person_fact(field, given, recorded)

    ds = read_dataset(ws, tags["dataset_id"], records)
    data = dataset_facts(ds)
    params, metrics = dict(run.data.params), dict(run.data.metrics)
    model = Model(name, version, tags, params, metrics, result, resolved, run, ds)
    power, power_source = None, None
    for source in (given, recorded):  # a measured power, like the fields only a person can supply
        if source is not None and source[1].get("power_watts"):
            power, power_source = float(source[1]["power_watts"]), (source[0], "compliance.power_watts")
            break
    audit = {
        "format": FORMAT,
        "model": {
            "name": fact(name, ("model version", "name")),
            "version": fact(version, ("model version", "version")),
        },
        "public_summary": {
            "general": {
                "provider": person("provider"),
                "contact": person("contact"),
                "model": fact(f"{name} version {version}", ("model version", "name, version")),
                "base_model": model.base(),
                "fine_tuned_from": model.parent(),
                "release_date": person("release_date"),
                "modalities": fact(kind_words(ds.stats.get("kind", "documents")), ("stats.json", "kind")),
                "training_tokens": model.training_tokens(),
                "size_band": model.size_band(),
                "languages": data["dataset"]["languages"],
                "dataset_published": (
                    fact(ds.manifest.get("created_at"), ("manifest.json", "created_at"))
                    if ds.manifest and ds.manifest.get("created_at")
                    else missing("the dataset's manifest holds no created_at")
                ),
            },
            "sources": data["sources"],
            "processing": data["processing"],
        },
        "technical_documentation": {
            "general": {
                "intended_use": person("intended_use"),
                "acceptable_use": person("acceptable_use"),
                "license": person("license"),
                "inputs_and_outputs": fact("text in, text out (a causal language model)", ("model version", "source")),
            },
            "design": model.design(),
            "training": model.training(),
            "data": model.data(),
            "compute": model.compute(),
            "energy": model.energy(power, power_source),
        },
        "lineage": model.lineage(),
    }
    audit["records"] = records.entries
    return audit


@dataclass
class Model:
    """The records of one registered version, and the facts read from them."""

    name: str
    version: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    result: dict[str, Any]
    resolved: dict[str, Any]  # the config the run recorded (config/resolved.yaml)
    run: Any
    ds: Dataset

    # Where a figure is read: a tag, a param, a metric, a field of the training result.
    def tag(self, key: str) -> tuple[str, str]:
        return ("model version", f"tags.{key}")

    def param(self, key: str) -> tuple[str, str]:
        return ("run", f"params.{key}")

    def metric(self, key: str) -> tuple[str, str]:
        return ("run", f"metrics.{key}")

    def res(self, key: str) -> tuple[str, str]:
        return ("run:evaluation/result.json", key)

    def base(self) -> dict[str, Any]:
        t = self.tags
        if "base.name" in t:
            architecture = t.get("base.architecture", "architecture not recorded")
            text = f"{t['base.name']} version {t.get('base.version')} ({architecture})"
            if t.get("base.files_digest"):
                text += f", its files' digest {t['base.files_digest']}"
            return fact(text, self.tag("base.name"), self.tag("base.version"), self.tag("base.files_digest"))
        if "parent.name" in t:
            return fact("the version it was fine-tuned from (below)", self.tag("parent.name"))
        return fact("none: trained from scratch by Forge", ("model version", "tags (no base.name)"))

    def parent(self) -> dict[str, Any]:
        t = self.tags
        if "parent.name" not in t:
            return fact("none", ("model version", "tags (no parent.name)"))
        method = t.get("finetune.method", "full")
        text = f"{t['parent.name']} version {t.get('parent.version')} ({method} fine-tuning)"
        if t.get("parent.dataset_id"):
            text += f", itself trained on dataset {t['parent.dataset_id']}"
        return fact(text, self.tag("parent.name"), self.tag("parent.version"), self.tag("finetune.method"))

    def training_tokens(self) -> dict[str, Any]:
        tokens = self.ds.tokens
        if tokens is None:
            return missing("the dataset version has no token files (a fine-tuning dataset counts conversations)")
        cites = [("tokens/manifest.json", "train.tokens")]
        if "train_tokens" in self.params:
            cites.append(self.param("train_tokens"))
        return fact(tokens["train"]["tokens"], *cites, note="the train split; the validation split is held out")

    def size_band(self) -> dict[str, Any]:
        if self.ds.tokens is None:
            return missing("no token count is recorded")
        return fact(size_band(self.ds.tokens["train"]["tokens"]), ("tokens/manifest.json", "train.tokens"))

    def ws_has(self, path: str) -> bool:
        return self.ds.ws.exists(path)

    def shape(self) -> Any:
        from forge_core.model.architecture import GPTConfig

        config = self.result.get("model_config")
        return GPTConfig(**config) if config else None

    def design(self) -> dict[str, Any]:
        cfg = self.shape()
        if cfg is None:
            reason = "the run's evaluation/result.json holds no model_config (a fine-tune keeps its parent's shape)"
            out = {"architecture": missing(reason)}
            if "parameters" in self.result:
                out["parameters"] = fact(int(self.result["parameters"]), self.res("parameters"))
            return out
        shape = ("run:evaluation/result.json", "model_config")
        arch = (
            f"decoder-only transformer (RoPE, RMSNorm, SwiGLU): {cfg.n_layer} layers, {cfg.n_head} attention heads "
            f"({cfg.kv_heads} key/value), width {cfg.n_embd}, feed-forward {cfg.ffn_hidden}, "
            f"{'tied' if cfg.tie_embeddings else 'untied'} input and output embeddings"
        )
        out = {"architecture": fact(arch, shape)}
        if "base.architecture" in self.tags:
            out["base_architecture"] = fact(self.tags["base.architecture"], self.tag("base.architecture"))
        parameters = int(self.result.get("parameters", 0))
        out["parameters"] = fact(parameters, self.res("parameters"), self.metric("parameters"))
        out["context_length"] = fact(cfg.block_size, ("run:evaluation/result.json", "model_config.block_size"))
        digest = (self.ds.tokens or {}).get("tokenizer_sha256")
        cites = [("tokens/manifest.json", "tokenizer_sha256")]
        if self.ws_has(f"{self.ds.folder}/tokenizer.json"):
            cites.append((self.ds.records.file("tokenizer.json", f"{self.ds.folder}/tokenizer.json"), "sha256"))
        if "base.name" in self.tags:
            tokenizer = f"the base model's own tokenizer ({self.tags['base.name']}), sha256 {digest}"
            cites.append(self.tag("base.name"))
        else:
            tokenizer = f"byte-level BPE trained on the kept text, sha256 {digest}"
        out["tokenizer"] = fact(tokenizer, *cites)
        out["vocabulary"] = fact(cfg.vocab_size, ("run:evaluation/result.json", "model_config.vocab_size"))
        out["objective"] = fact(
            "next-token prediction (cross-entropy) over the train split, each document ended by an end-of-text token",
            self.tag("forge_version"),
        )
        return out

    def training(self) -> dict[str, Any]:
        p, r = self.params, self.result
        out: dict[str, Any] = {}
        if self.tags.get("forge.kind") == "finetune":
            out["method"] = fact(
                f"supervised fine-tuning ({r.get('method', self.tags.get('finetune.method'))}) on conversations, "
                "loss on the assistant's tokens only",
                self.tag("finetune.method"),
            )
        elif "base.name" in self.tags:
            out["method"] = fact(f"continued pretraining of {self.tags['base.name']}", self.tag("base.name"))
        else:
            out["method"] = fact("pretraining from random initialisation", ("model version", "tags (no base.name)"))
        if "train/learning_rate" in p:
            out["optimizer"] = fact(
                f"AdamW (beta1 0.9, beta2 {p.get('train/beta2')}), weight decay {p.get('train/weight_decay')}, "
                f"gradient clipping at norm {p.get('train/grad_clip')}",
                self.param("train/beta2"),
                self.param("train/weight_decay"),
                self.param("train/grad_clip"),
            )
            out["schedule"] = fact(
                f"linear warm-up over {p.get('train/warmup_steps')} steps to {p.get('train/learning_rate')}, then "
                f"cosine decay to {p.get('train/min_lr_ratio')} of it at step {p.get('train/max_steps')}",
                self.param("train/warmup_steps"),
                self.param("train/learning_rate"),
                self.param("train/min_lr_ratio"),
                self.param("train/max_steps"),
            )
            if (batch := self.tokens_per_step()) is not None:
                out["batch"] = fact(
                    f"{p.get('train/batch_size')} sequences x {p.get('train/grad_accum')} accumulation x "
                    f"{p.get('resolved/world_size')} devices x {p.get('model/block_size')} tokens "
                    f"= {batch:,} tokens per step",
                    self.param("train/batch_size"),
                    self.param("train/grad_accum"),
                    self.param("resolved/world_size"),
                    self.param("model/block_size"),
                )
            out["seed"] = fact(p.get("train/seed"), self.param("train/seed"))
        elif "learning_rate" in r:
            out["optimizer"] = fact(f"AdamW, peak learning rate {r['learning_rate']}", self.res("learning_rate"))
        if "steps" in r:
            out["steps"] = fact(r["steps"], self.res("steps"))
        if "stopped_by" in r:
            out["stopped_by"] = fact(r["stopped_by"], self.res("stopped_by"))
        if "train_tokens_seen" in r:
            out["tokens_processed"] = fact(r["train_tokens_seen"], self.res("train_tokens_seen"))
        if "precision" in r:
            out["precision"] = fact(r["precision"], self.res("precision"))
        if "strategy" in r:
            out["strategy"] = fact(
                f"{r['strategy']} on {r.get('world_size')} device(s)", self.res("strategy"), self.res("world_size")
            )
        if "initial" in r and "final" in r:
            out["evaluation"] = fact(
                f"validation bits per byte {r['initial']['val_bpb']:.4f} before training, "
                f"{r['final']['val_bpb']:.4f} after",
                self.res("initial.val_bpb"),
                self.res("final.val_bpb"),
            )
        elif r.get("heldout_loss_after") is not None:
            before = r.get("heldout_loss_before")
            out["evaluation"] = fact(
                f"held-out loss per assistant token {'-' if before is None else f'{before:.4f}'} before, "
                f"{r['heldout_loss_after']:.4f} after",
                self.res("heldout_loss_before"),
                self.res("heldout_loss_after"),
            )
        return out

    def tokens_per_step(self) -> int | None:
        p = self.params
        try:
            keys = ("train/batch_size", "train/grad_accum", "resolved/world_size", "model/block_size")
            a, b, c, d = (int(p[k]) for k in keys)
        except (KeyError, ValueError):
            return None
        return a * b * c * d

    def data(self) -> dict[str, Any]:
        ds, cfg = self.ds, self.ds.config
        counts = ds.stats.get("counts", {})
        dedup, tokenize = cfg.get("dedup", {}), cfg.get("tokenize", {})
        out = {
            "type": fact(kind_words(ds.stats.get("kind", "documents")), ("stats.json", "kind")),
            "dataset_id": fact(ds.dataset_id, self.tag("dataset_id"), ("stats.json", "dataset_id")),
        }
        if ds.manifest is not None:
            out["provenance"] = fact(
                f"{ds.manifest.get('files')} files read from {', '.join(ds.manifest.get('sources', []))}",
                ("manifest.json", "files"),
                ("manifest.json", "sources"),
            )
        near = (
            f"near duplicates at Jaccard >= {dedup.get('threshold')} over {dedup.get('shingle_words')}-word shingles "
            f"(MinHash, {dedup.get('num_perm')} permutations, verified {dedup.get('verify')})"
            if dedup.get("near")
            else "no near-duplicate removal"
        )
        out["curation"] = fact(
            f"read (unreadable files quarantined with their reason); cleaned by the "
            f"{cfg.get('clean', {}).get('profile')} profile's steps (normalize, language id, PII, filters); "
            f"deduplicated: {'exact duplicates, ' if dedup.get('exact') else ''}{near}; validation gates "
            f"on the ingested, cleaned and deduplicated documents"
            + (f"; tokenized with a vocabulary of {ds.tokens.get('vocab_size')}" if ds.tokens else ""),
            ("config.yaml", "clean.profile"),
            ("config.yaml", "dedup"),
            ("stats.json", "steps"),
        )
        out["documents"] = fact(
            {k: counts.get(k) for k in ("ingested", "kept", "dropped", "quarantined")}, ("stats.json", "counts")
        )
        if ds.tokens is not None:
            splits = [
                {"split": s, "documents": ds.tokens[s]["documents"], "tokens": ds.tokens[s]["tokens"]}
                | {"bytes": ds.tokens[s]["bytes"]}
                for s in ("train", "val")
                if s in ds.tokens
            ]
            out["splits"] = fact(splits, ("tokens/manifest.json", "train, val"))
        elif self.result.get("train_conversations") is not None:
            splits = [
                {"split": "train", "conversations": self.result["train_conversations"]},
                {"split": "val", "conversations": self.result.get("val_conversations")},
            ]
            out["splits"] = fact(splits, self.res("train_conversations"), self.res("val_conversations"))
        kept = (
            "every document that was read, passed every cleaning step and was not a duplicate is kept (of each "
            f"group of duplicates, the {dedup.get('survivor')} survives); "
        )
        cites = [("ledger.parquet", "status"), ("config.yaml", "dedup.survivor")]
        if ds.tokens is not None:
            held = (
                "a kept document is held out for validation when the first 32 bits of sha256(doc_id) fall under "
                f"{tokenize.get('validation_fraction')} of their range"
            )
            cites.append(("config.yaml", "tokenize.validation_fraction"))
        else:
            fraction = (self.resolved.get("finetune") or {}).get("validation_fraction")
            held = f"the {fraction} of the kept conversations with the lowest sha256(doc_id) are held out"
            cites.append(("run:config/resolved.yaml", "finetune.validation_fraction"))
        out["selection"] = fact(kept + held, *cites)
        return out

    def duration_s(self) -> float | None:
        info = self.run.info
        if not info.end_time or not info.start_time:
            return None
        return (info.end_time - info.start_time) / 1000

    def recorded(self, *keys: str) -> list[tuple[str, str]]:
        """Where the result or the params hold one of keys (a result field, or a param with a slash)."""
        found = [self.res(k) for k in keys if "/" not in k and k in self.result]
        return found + [self.param(k) for k in keys if "/" in k and k in self.params]

    def device_cites(self) -> list[tuple[str, str]]:
        return self.recorded("device_name", "device", "resolved/device_name")

    def devices_cites(self) -> list[tuple[str, str]]:
        """Where the device count is recorded; a fine-tuning run records none: it trains on one
        device (forge_core/train/finetune.py), which the code version says."""
        return self.recorded("world_size", "resolved/world_size") or [self.tag("forge_version")]

    def device_hours(self, duration: float) -> float:
        """As the audit prints it, so the energy is recomputed from the figure shown."""
        return significant(device_hours(duration, self.devices()))

    def devices(self) -> int:
        return int(self.result.get("world_size") or self.params.get("resolved/world_size") or 1)

    def device_name(self) -> str | None:
        return self.result.get("device_name") or self.result.get("device") or self.params.get("resolved/device_name")

    def compute(self) -> dict[str, Any]:
        from forge_core.model.sizing import flops_per_token

        out: dict[str, Any] = {}
        cfg, seen = self.shape(), self.result.get("train_tokens_seen")
        if cfg is not None and seen is not None:
            per_token = flops_per_token(cfg)
            out["flops_per_token"] = fact(
                per_token,
                ("run:evaluation/result.json", "model_config"),
                self.param("resolved/flops_per_token"),
                formula="6 x (parameters in matmuls) + 12 x n_layer x n_embd x block_size (forge_core/model/sizing.py)",
            )
            out["training_flops"] = fact(
                per_token * int(seen),
                ("run:evaluation/result.json", "model_config"),
                self.res("train_tokens_seen"),
                formula="flops_per_token x tokens processed",
                note="training only: the evaluation passes and, for a base model, its own pretraining are not counted",
            )
        else:
            out["training_flops"] = missing("the run records no model shape and tokens processed")
        device = self.device_name()
        out["device"] = fact(device, *self.device_cites()) if device else missing("the run names no device")
        out["devices"] = fact(self.devices(), *self.devices_cites())
        duration = self.duration_s()
        if duration is None:
            out["run_seconds"] = missing("the run has no end time (still running, or it crashed)")
            return out
        out["run_seconds"] = fact(round(duration, 3), ("run", "info.end_time - info.start_time"))
        if "seconds" in self.result:
            out["training_loop_seconds"] = fact(self.result["seconds"], self.res("seconds"))
        kind = "GPU" if device and device != "cpu" else "device"
        out["device_hours"] = fact(
            self.device_hours(duration),
            ("run", "info.end_time - info.start_time"),
            *self.devices_cites(),
            formula="run_seconds x devices / 3600",
            note=f"{kind}-hours over the whole training run (set-up, evaluation and saving included)",
        )
        return out

    def energy(self, power: float | None, power_source: tuple[str, str] | None) -> dict[str, Any]:
        duration, device = self.duration_s(), self.device_name() or ""
        out: dict[str, Any] = {"formula": fact(FORMULA, ("run", "info.end_time - info.start_time"))}
        if power is not None and power_source is not None:
            watts, source, cites = power, "measured, from the compliance section", [power_source]
        elif (found := board_power(device)) is not None:
            watts, source = found
            cites = self.device_cites()
        else:
            what = "a CPU run" if device in ("", "cpu") else f"no board power is listed for {device!r}"
            reason = f"not estimated: {what}; set compliance.power_watts to a measured figure"
            out["power_watts"] = fact(reason, *self.device_cites())
            out["energy_kwh"] = fact(reason, *self.device_cites())
            return out
        out["power_watts"] = fact(watts, *cites, note=source)
        if duration is None:
            out["energy_kwh"] = missing("the run has no end time")
            return out
        hours = self.device_hours(duration)
        out["energy_kwh"] = fact(
            significant(energy_kwh(hours, watts)),
            ("run", "info.end_time - info.start_time"),
            *self.devices_cites(),
            *cites,
            note="an estimate: board power is an upper bound for the GPUs, and the host, network and cooling "
            "(the data centre's PUE) are not counted",
        )
        return out

    def lineage(self) -> dict[str, Any]:
        t = self.tags
        out = {
            "dataset_id": fact(t["dataset_id"], self.tag("dataset_id")),
            "ledger_sha256": fact(t.get("ledger_digest"), self.tag("ledger_digest"), ("ledger.parquet", "sha256")),
        }
        for key, label in (
            ("integrity.weights_sha256", "weights_sha256"),
            ("integrity.dataset_manifest", "dataset_manifest_sha256"),
            ("forge_version", "code_version"),
            ("git_commit", "git_commit"),
            ("validation_status", "validation_status"),
            ("prefect_flow_run_id", "prefect_flow_run_id"),
        ):
            if t.get(key):
                out[label] = fact(t[key], self.tag(key))
        out["training_run"] = fact(self.run.info.run_id, ("run", "run_id"))
        return out
