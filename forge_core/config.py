"""The whole run's configuration: typed models with defaults, loaded from YAML.

Every stage has its config model next to the others here, so a user reads one file to know every
knob. Unknown keys are errors (a typo such as `min_wrods` must not silently fall back to a
default), and every error names the key path and the file it came from.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from forge_core.train.config import TrainConfig

MiB = 1024 * 1024


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EmailConfig(_Strict):
    """What of an e-mail becomes training text."""

    quoted_replies: Literal["keep", "mark", "remove"] = Field(
        default="remove",
        description="Quoted earlier messages ('> ...', 'On ... wrote:'): keep, mark as <QUOTE>, remove.",
    )
    signatures: Literal["keep", "remove"] = Field(default="remove", description="The sign-off block after '-- '.")
    attachments: bool = Field(
        default=True, description="Ingest attachments of supported types as their own documents, parent recorded."
    )


class ExtractConfig(_Strict):
    """How text is taken out of each format."""

    html_tables: bool = Field(default=True, description="Keep the text of HTML tables.")
    docx_tables: bool = Field(default=True, description="Keep the text of Word tables, a row per line.")
    email: EmailConfig = Field(default_factory=EmailConfig)


class IngestConfig(_Strict):
    """How source files become documents."""

    extract: ExtractConfig = Field(default_factory=ExtractConfig)

    text_columns: list[str] = Field(
        default=["text", "body", "content"],
        description="For .csv, .jsonl and .parquet: the first of these columns present holds a row's text.",
        min_length=1,
    )
    max_file_bytes: int = Field(
        default=256 * MiB, gt=0, description="Files larger than this are quarantined as file_too_large."
    )
    shard_max_files: int = Field(
        default=256, gt=0, description="Source files per ingest shard (the unit of parallel work)."
    )
    shard_max_bytes: int = Field(default=64 * MiB, gt=0, description="Raw bytes per ingest shard.")


PiiAction = Literal["redact", "keep", "drop"]


class PiiConfig(_Strict):
    """What to do with each kind of personal data: redact (a typed placeholder such as <EMAIL>),
    keep, or drop the whole document."""

    email: PiiAction = Field(default="redact", description="E-mail addresses -> <EMAIL>.")
    phone: PiiAction = Field(default="redact", description="Phone numbers, validated with phonenumbers -> <PHONE>.")
    credit_card: PiiAction = Field(default="redact", description="Payment card numbers, Luhn-checked -> <CREDIT_CARD>.")
    iban: PiiAction = Field(default="redact", description="IBANs, checksum-checked -> <IBAN>.")
    us_ssn: PiiAction = Field(default="redact", description="US social security numbers -> <US_SSN>.")
    ip_address: PiiAction = Field(default="redact", description="IPv4 and IPv6 addresses -> <IP_ADDRESS>.")
    credential: PiiAction = Field(
        default="drop", description="AWS keys, private key blocks, bearer tokens and other secrets -> <CREDENTIAL>."
    )
    phone_regions: list[str] = Field(
        default=["US", "GB", "DE", "FR"],
        description="Regions whose national formats count as phone numbers without a +country code.",
    )
    residual_max_rate: float = Field(
        default=0.001,
        ge=0.0,
        le=1.0,
        description="The cleaned-stage gate fails when more than this share of documents still holds PII.",
    )


class NormalizeConfig(_Strict):
    """Unicode, control characters, whitespace and line breaks."""

    unicode_form: Literal["NFC", "NFKC"] = Field(
        default="NFC", description="NFC keeps characters as written; NFKC also folds compatibility forms."
    )
    fix_mojibake: bool = Field(default=True, description="Repair mis-decoded text (ftfy), e.g. 'cafÃ©' -> 'café'.")
    remove_control: bool = Field(default=True, description="Remove control and zero-width characters.")
    collapse_spaces: bool = Field(default=True, description="Runs of spaces and tabs become one space.")
    max_blank_lines: int = Field(default=1, ge=0, description="Blank lines kept in a row (paragraph breaks).")


class LanguageConfig(_Strict):
    """Language identification (py3langid: its model ships inside the package)."""

    enabled: bool = Field(default=True, description="Label every document with its language and score.")
    allow: list[str] = Field(
        default=[], description="ISO 639-1 codes to keep (e.g. [en, de]); empty keeps every language."
    )
    min_score: float = Field(
        default=0.0, ge=0.0, le=1.0, description="With an allow-list: a document scoring below this is dropped too."
    )


class LengthConfig(_Strict):
    """The shortest and longest documents worth training on."""

    min_words: int = Field(default=20, ge=0, description="Fewer words after cleaning: dropped as too_short.")
    max_words: int = Field(default=200_000, gt=0, description="More words: dropped as too_long.")


class GopherQualityConfig(_Strict):
    """Gopher quality rules (Rae et al. 2021, as in datatrove's FineWeb recipe)."""

    enabled: bool = True
    min_doc_words: int = Field(default=50, ge=0, description="Fewer words: gopher_short_document.")
    max_doc_words: int = Field(default=100_000, gt=0, description="More words: gopher_long_document.")
    min_avg_word_length: float = Field(
        default=3.0, ge=0.0, description="Mean word length below: gopher_below_avg_threshold."
    )
    max_avg_word_length: float = Field(
        default=10.0, gt=0.0, description="Mean word length above: gopher_above_avg_threshold."
    )
    max_symbol_word_ratio: float = Field(default=0.1, ge=0.0, description="'#' and '...' per word above this: dropped.")
    max_bullet_lines_ratio: float = Field(
        default=0.9, ge=0.0, le=1.0, description="Share of lines starting with a bullet."
    )
    max_ellipsis_lines_ratio: float = Field(default=0.3, ge=0.0, le=1.0, description="Share of lines ending in '...'.")
    max_non_alpha_words_ratio: float = Field(
        default=0.8, ge=0.0, le=1.0, description="At least this share of words must contain a letter."
    )
    min_stop_words: int = Field(
        default=2, ge=0, description="English documents need this many of: the, be, to, of, and, that, have, with."
    )


class GopherRepetitionConfig(_Strict):
    """Gopher repetition rules: repeated lines, paragraphs and n-grams (boilerplate, spam)."""

    enabled: bool = True
    dup_line_frac: float = Field(default=0.3, ge=0.0, le=1.0, description="Share of lines that are repeats.")
    dup_para_frac: float = Field(default=0.3, ge=0.0, le=1.0, description="Share of paragraphs that are repeats.")
    dup_line_char_frac: float = Field(default=0.2, ge=0.0, le=1.0, description="Share of characters in repeated lines.")
    dup_para_char_frac: float = Field(
        default=0.2, ge=0.0, le=1.0, description="Share of characters in repeated paragraphs."
    )
    top_n_grams: dict[int, float] = Field(
        default={2: 0.2, 3: 0.18, 4: 0.16}, description="n: the most frequent n-gram's share of characters, at most."
    )
    dup_n_grams: dict[int, float] = Field(
        default={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n: share of characters in repeated n-grams, at most.",
    )


class C4Config(_Strict):
    """C4 rules (Raffel et al. 2020), with the FineWeb recipe's choice of keeping lines without end punctuation."""

    enabled: bool = True
    filter_no_terminal_punct: bool = Field(default=False, description="Remove lines not ending in . ! ? or a quote.")
    min_words_per_line: int = Field(default=3, ge=0, description="Remove lines with fewer words.")
    max_word_length: int = Field(default=1000, gt=0, description="Remove lines with a longer word.")
    min_num_sentences: int = Field(default=5, ge=0, description="Fewer sentences left: c4_too_few_sentences.")
    remove_citations: bool = Field(default=True, description="Remove Wikipedia-style citation marks like [1].")
    filter_lorem_ipsum: bool = Field(default=True, description="Drop documents containing 'lorem ipsum'.")
    filter_javascript: bool = Field(default=True, description="Remove lines that mention javascript.")
    filter_curly_bracket: bool = Field(default=True, description="Drop documents containing '{' (code, templates).")
    filter_policy: bool = Field(default=True, description="Remove cookie, terms-of-use and privacy-policy lines.")


class FineWebConfig(_Strict):
    """FineWeb rules (Penedo et al. 2024): line punctuation, short lines, duplicated lines, newlines."""

    enabled: bool = True
    line_punct_thr: float = Field(
        default=0.12, ge=0.0, le=1.0, description="Share of lines ending in punctuation, at least."
    )
    short_line_thr: float = Field(default=0.67, ge=0.0, le=1.0, description="Share of short lines, at most.")
    short_line_length: int = Field(default=30, gt=0, description="A line shorter than this many characters is short.")
    char_duplicates_ratio: float = Field(
        default=0.01, ge=0.0, le=1.0, description="Share of characters in repeated lines."
    )
    new_line_ratio: float = Field(default=0.3, ge=0.0, le=1.0, description="Newlines per word, at most.")


class CleanConfig(_Strict):
    """Normalization, language id, PII redaction and the quality filters, in that order."""

    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    language: LanguageConfig = Field(default_factory=LanguageConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    length: LengthConfig = Field(default_factory=LengthConfig)
    quality_languages: list[str] = Field(
        default=["en"],
        description="The Gopher, C4 and FineWeb rules were tuned on English web text; they judge documents "
        "identified as these languages (empty: every document).",
    )
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    c4: C4Config = Field(default_factory=C4Config)
    fineweb: FineWebConfig = Field(default_factory=FineWebConfig)


class DedupConfig(_Strict):
    """Exact and near-duplicate removal."""

    exact: bool = Field(default=True, description="Drop documents whose normalized text is identical.")
    near: bool = Field(default=True, description="Drop near duplicates found with MinHash LSH.")
    threshold: float = Field(
        default=0.8,
        gt=0.0,
        lt=1.0,
        description="Jaccard similarity at or above which two documents are near duplicates.",
    )
    num_perm: int = Field(default=128, ge=16, le=1024, description="MinHash permutations per signature.")
    recall_weight: float = Field(
        default=0.95,
        gt=0.0,
        lt=1.0,
        description="Weight of missed pairs against extra candidates when datasketch picks bands and rows "
        "(0.95 at 0.8 and 128 permutations: 16 bands of 8 rows). Candidates are verified, so an extra one "
        "costs a comparison and a missed one a duplicate left in the data.",
    )
    shingle_words: int = Field(default=5, ge=1, le=32, description="Words per shingle.")
    seed: int = Field(default=1, description="MinHash seed; changing it changes which pairs are candidates.")
    verify: Literal["exact", "signature"] = Field(
        default="exact",
        description="How a candidate pair is checked against the threshold: the exact Jaccard of the two "
        "documents' shingle sets, or the estimate from their MinHash signatures (faster, noisier).",
    )
    survivor: Literal["earliest", "longest", "first_seen"] = Field(
        default="earliest",
        description="Which document of a duplicate cluster is kept: earliest source (file URI, then row), "
        "longest text, or first seen (the order documents entered the dataset).",
    )
    bucket_pairs: int = Field(
        default=32,
        ge=2,
        description="LSH buckets up to this size propose every pair of their members; a bigger bucket proposes "
        "each member with the next and with the first, so a bucket of thousands costs thousands of checks.",
    )
    report_clusters: int = Field(default=10, ge=0, description="Largest clusters listed in the dedup report.")


class TokenizeConfig(_Strict):
    """The BPE tokenizer and the token files training reads."""

    vocab_size: int = Field(
        default=8192, ge=260, le=1 << 20, description="Tokens in the BPE vocabulary, special ones included."
    )
    min_frequency: int = Field(default=2, ge=1, description="A pair merges only if seen at least this often.")
    validation_fraction: float = Field(
        default=0.05, ge=0.0, lt=1.0, description="Share of documents (by a hash of doc_id) held out for validation."
    )


class EvalConfig(_Strict):
    """The evaluation after training: held-out loss, perplexity, bits per byte and samples."""

    max_batches: int = Field(default=50, gt=0, description="Validation batches in the final evaluation.")
    samples: int = Field(default=3, ge=0, description="Validation documents whose openings are continued.")
    prompt_tokens: int = Field(default=16, gt=0, description="Tokens of each document used as the prompt.")
    max_new_tokens: int = Field(default=48, gt=0, description="Tokens generated per sample.")
    temperature: float = Field(default=0.8, ge=0.0, description="Sampling temperature; 0 is greedy.")
    top_k: int | None = Field(default=50, gt=0, description="Sample among the k likeliest tokens; empty = all.")


class RegistryConfig(_Strict):
    """Where runs and models are recorded in MLflow."""

    experiment: str = Field(default="forge", min_length=1, description="MLflow experiment of `forge run`.")
    model_name: str = Field(default="forge-lm", min_length=1, description="Registered model name.")


class ValidationConfig(_Strict):
    """Great Expectations gates between stages."""

    enabled: bool = Field(default=True, description="Run the suites; a failing suite stops the flow.")
    suites_dir: str | None = Field(
        default=None, description="Folder of <stage>.json suites to use instead of the built-in expectations/."
    )
    max_rows: int = Field(
        default=200_000, gt=0, description="Validate at most this many rows per stage (a seeded sample above it)."
    )


class DaskConfig(_Strict):
    """Where the data work runs."""

    address: str | None = Field(
        default=None, description="Scheduler address of an existing cluster; empty starts a LocalCluster."
    )
    n_workers: int | None = Field(default=None, gt=0, description="LocalCluster workers; empty = CPU cores.")
    threads_per_worker: int = Field(default=1, gt=0, description="Threads per LocalCluster worker.")
    processes: bool = Field(default=True, description="LocalCluster workers as processes (false: threads).")


class ServerConfig(_Strict):
    """`forge server`: a team's Prefect server and MLflow tracking server, on PostgreSQL."""

    host: str = Field(
        default="127.0.0.1",
        description="Address both servers listen on; one beyond loopback only when given as --host.",
    )
    prefect_port: int = Field(default=4200, gt=0, lt=65536, description="Port of the Prefect API and UI.")
    mlflow_port: int = Field(default=5000, gt=0, lt=65536, description="Port of the MLflow tracking server and UI.")
    # Secrets: a URL's password never reaches a log, a flow parameter or a config artifact, where
    # the whole config is written (SecretStr dumps as '**********'). Better kept in the environment.
    prefect_database_url: SecretStr | None = Field(
        default=None,
        description="Prefect's database, postgresql+asyncpg://USER:PASSWORD@HOST:5432/prefect; "
        "env FORGE_PREFECT_DATABASE_URL wins.",
    )
    mlflow_database_url: SecretStr | None = Field(
        default=None,
        description="MLflow's runs and model registry, postgresql://USER:PASSWORD@HOST:5432/mlflow; "
        "env FORGE_MLFLOW_DATABASE_URL wins.",
    )
    mlflow_auth_database_url: SecretStr | None = Field(
        default=None,
        description="MLflow's users and permissions; empty = SQLite in <workspace>/server/; "
        "env FORGE_MLFLOW_AUTH_DATABASE_URL wins.",
    )
    artifacts_destination: str | None = Field(
        default=None,
        description="Where the MLflow server stores the artifacts it proxies (folder or s3://bucket/path); "
        "empty = <workspace>/mlflow-artifacts.",
    )
    mlflow_auth: bool = Field(
        default=True, description="MLflow sign-in (basic auth); the admin's password from FORGE_MLFLOW_ADMIN_PASSWORD."
    )
    mlflow_admin_username: str = Field(default="admin", min_length=1, description="MLflow's admin user.")
    mlflow_default_permission: Literal["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"] = Field(
        default="READ", description="What every signed-in MLflow user may do with experiments and models not theirs."
    )
    mlflow_workers: int = Field(default=2, gt=0, description="MLflow server worker processes.")


class ForgeConfig(_Strict):
    """A whole Forge run."""

    workspace: str = Field(default="./forge-workspace", description="Folder or fsspec URL where a run writes.")
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    tokenize: TokenizeConfig = Field(default_factory=TokenizeConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    dask: DaskConfig = Field(default_factory=DaskConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    def data_settings(self) -> dict[str, Any]:
        """The settings that change what a dataset version contains (not where or how fast it runs).

        The tokenizer is part of the version: its tokenizer.json and token files live in it.
        """
        return self.model_dump(include={"ingest", "clean", "dedup", "validation", "tokenize"}, mode="json")


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            lines.append(f"  {key}: unknown key (check the spelling; `forge init` writes every valid key)")
        else:
            lines.append(f"  {key}: {e['msg']} (got {json.dumps(e.get('input'), default=str)})")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, **overrides: Any) -> ForgeConfig:
    """Defaults, then the YAML file if given, then explicit overrides (e.g. --workspace)."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{path}: cannot read config file ({e.strerror})") from e
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(loaded).__name__}")
        data = loaded
    for key, value in overrides.items():
        if value is not None:
            data[key] = value
    try:
        return ForgeConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, source)) from None


def _yaml_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def _emit(model: type[BaseModel], values: BaseModel, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for name, field in model.model_fields.items():
        value = getattr(values, name)
        if isinstance(value, BaseModel) or dataclasses.is_dataclass(value):
            doc = textwrap.dedent(type(value).__doc__ or "").strip().splitlines()[0]
            out.append("")
            out.append(f"{pad}# {doc}")
            out.append(f"{pad}{name}:")
            if isinstance(value, BaseModel):
                _emit(type(value), value, indent + 1, out)
            else:
                for f in dataclasses.fields(value):
                    out.append(f"{pad}  # {f.metadata['help']}")
                    out.append(f"{pad}  {f.name}: {_yaml_value(getattr(value, f.name))}")
        else:
            if field.description:
                out.append(f"{pad}# {field.description}")
            out.append(f"{pad}{name}: {_yaml_value(value)}")


def default_config_yaml() -> str:
    """A commented YAML file holding every key with its default, generated from the models."""
    out = [
        "# Forge configuration. Every key is optional; shown here with its default.",
        "# Use it with: forge run SOURCE... --config forge.yaml (or forge curate, which stops at the dataset)",
    ]
    _emit(ForgeConfig, ForgeConfig(), 0, out)
    return "\n".join(out) + "\n"
