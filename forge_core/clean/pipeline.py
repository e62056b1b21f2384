"""The cleaning stage: its step list, its config, and the stage function over one shard.

RULES is the pipeline; `clean.profile` chooses which of its rules run: `enterprise` (the default:
what a company writes is kept, junk of any language is dropped), `web` (the Gopher, C4 and
FineWeb recipe for crawled web text, as FineWeb tuned it) or `none` (normalize, label and redact
only). A rule's `enabled: true|false` overrides its profile.

Adding a rule: write its function, its config model and its REASONS in one module under clean/,
then add one Rule line below (with the profiles it runs in) and its field in CleanConfig (a test
checks that the two agree). The README's table of rules and reasons is generated from RULES
(`python -m forge_core.clean.pipeline`), and a test fails when it is stale.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from forge_core.clean import c4, conversation, fineweb, gopher, language, length, normalize, pii
from forge_core.clean.c4 import C4Config, c4_filter
from forge_core.clean.conversation import ConversationConfig, conversation_filter
from forge_core.clean.fineweb import FineWebConfig, fineweb_filter
from forge_core.clean.gopher import GopherQualityConfig, GopherRepetitionConfig, gopher_quality, gopher_repetition
from forge_core.clean.junk import boilerplate, encoded, generated, gibberish, logs, mojibake, numeric, placeholder, spam
from forge_core.clean.junk.boilerplate import BoilerplateConfig, boilerplate_filter
from forge_core.clean.junk.encoded import EncodedConfig, encoded_filter
from forge_core.clean.junk.generated import GeneratedCodeConfig, generated_code_filter
from forge_core.clean.junk.gibberish import GibberishConfig, gibberish_filter
from forge_core.clean.junk.logs import LogsConfig, logs_filter
from forge_core.clean.junk.mojibake import MojibakeConfig, mojibake_filter
from forge_core.clean.junk.numeric import NumericConfig, numeric_filter
from forge_core.clean.junk.placeholder import PlaceholderConfig, placeholder_filter
from forge_core.clean.junk.spam import SpamConfig, spam_filter
from forge_core.clean.language import LanguageConfig, identify_language
from forge_core.clean.length import LengthConfig, count_words, length_filter
from forge_core.clean.normalize import NormalizeConfig, normalize_text
from forge_core.clean.pii import PiiConfig, redact_pii
from forge_core.executor.work import ShardCounts, docs_file, ledger_file
from forge_core.gate_columns import GateColumns, write_gate_columns
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import ANNOTATION_COLUMNS, CLEANED, LEDGER_PART
from forge_core.section import Section
from forge_core.steps import LEDGER_DTYPES, Rule, StageOutput, Step, run_steps

STAGE = "clean"

# Order matters: language before the English-only stop-word rule, PII before counting words
# (placeholders count), C4 (which edits lines) before FineWeb's line statistics, and the FineWeb
# recipe's order for the quality rules.
PROFILES = ("enterprise", "web", "none")
ENTERPRISE = frozenset({"enterprise"})
WEB = frozenset({"web"})
FILTERS = frozenset({"enterprise", "web"})

RULES: list[Rule] = [
    Rule("normalize", normalize_text, NormalizeConfig, normalize.REASONS),
    Rule("language", identify_language, LanguageConfig, language.REASONS),
    Rule("pii", redact_pii, PiiConfig, pii.REASONS),
    Rule("conversation", conversation_filter, ConversationConfig, conversation.REASONS),
    Rule("length", length_filter, LengthConfig, length.REASONS, FILTERS),
    Rule("placeholder", placeholder_filter, PlaceholderConfig, placeholder.REASONS, ENTERPRISE),
    Rule("encoded", encoded_filter, EncodedConfig, encoded.REASONS, ENTERPRISE),
    Rule("generated_code", generated_code_filter, GeneratedCodeConfig, generated.REASONS, ENTERPRISE),
    Rule("logs", logs_filter, LogsConfig, logs.REASONS, ENTERPRISE),
    Rule("numeric", numeric_filter, NumericConfig, numeric.REASONS, ENTERPRISE),
    Rule("spam", spam_filter, SpamConfig, spam.REASONS, ENTERPRISE),
    Rule("boilerplate", boilerplate_filter, BoilerplateConfig, boilerplate.REASONS, ENTERPRISE),
    Rule("gibberish", gibberish_filter, GibberishConfig, gibberish.REASONS, ENTERPRISE),
    Rule("mojibake", mojibake_filter, MojibakeConfig, mojibake.REASONS, ENTERPRISE),
    Rule("gopher_repetition", gopher_repetition, GopherRepetitionConfig, gopher.REPETITION_REASONS, WEB, web=True),
    Rule("gopher_quality", gopher_quality, GopherQualityConfig, gopher.QUALITY_REASONS, WEB, web=True),
    Rule("c4", c4_filter, C4Config, c4.REASONS, WEB, web=True),
    Rule("fineweb", fineweb_filter, FineWebConfig, fineweb.REASONS, WEB, web=True),
]


def profile_rules(profile: str) -> list[str]:
    return [rule.name for rule in RULES if profile in rule.profiles]


class CleanConfig(Section):
    """Normalization, language id, PII redaction and the filters of a profile, in that order."""

    profile: Literal["enterprise", "web", "none"] = Field(
        default="enterprise",
        description="Which rules run. "
        + "; ".join(f"{p}: {', '.join(profile_rules(p))}" for p in PROFILES)
        + ". enterprise keeps a company's short and technical documents and drops junk in any language; "
        "web is the FineWeb recipe for crawled web text.",
    )
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    language: LanguageConfig = Field(default_factory=LanguageConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    conversation: ConversationConfig = Field(default_factory=ConversationConfig)
    length: LengthConfig = Field(default_factory=LengthConfig)
    placeholder: PlaceholderConfig = Field(default_factory=PlaceholderConfig)
    encoded: EncodedConfig = Field(default_factory=EncodedConfig)
    generated_code: GeneratedCodeConfig = Field(default_factory=GeneratedCodeConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    numeric: NumericConfig = Field(default_factory=NumericConfig)
    spam: SpamConfig = Field(default_factory=SpamConfig)
    boilerplate: BoilerplateConfig = Field(default_factory=BoilerplateConfig)
    gibberish: GibberishConfig = Field(default_factory=GibberishConfig)
    mojibake: MojibakeConfig = Field(default_factory=MojibakeConfig)
    quality_languages: list[str] = Field(
        default=["en"],
        description="The Gopher, C4 and FineWeb rules were tuned on English web text; they judge documents "
        "identified as these languages (empty: every document).",
    )
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    c4: C4Config = Field(default_factory=C4Config)
    fineweb: FineWebConfig = Field(default_factory=FineWebConfig)


def _bind(rule: Rule, cfg: CleanConfig) -> Step:
    section = getattr(cfg, rule.name)
    if rule.name == "length":
        return lambda shard: rule.apply(shard, section, cfg.profile)
    if rule.web:
        return lambda shard: rule.apply(shard, section, cfg.quality_languages)
    return lambda shard: rule.apply(shard, section)


def clean_steps(cfg: CleanConfig) -> list[tuple[str, Step]]:
    """The profile's RULES bound to their settings, then a word recount (C4 edits text) for stats."""
    chosen = [rule for rule in RULES if rule.runs(getattr(cfg, rule.name), cfg.profile)]
    return [(rule.name, _bind(rule, cfg)) for rule in chosen] + [("recount", count_words)]


def describe() -> str:
    """One line for the orchestrator's UI: the steps in the order they run."""
    return "Steps of the profile, in order, from: " + ", ".join(rule.name for rule in RULES) + "; drops by reason."


def clean_frame(shard: pl.DataFrame, cfg: CleanConfig, *, keep_checks: bool = False) -> StageOutput:
    """The whole cleaning chain over one in-memory shard (what clean_shard runs, without the I/O).

    keep_checks: keep the PII step's record of the texts it found nothing in (pii.CHECKED), which
    the cleaned gate's residual check reads so as not to search those texts twice."""
    out = run_steps(shard, clean_steps(cfg), stage=STAGE)
    missing = [c for c in ANNOTATION_COLUMNS if c not in out.kept.columns]  # a step switched off
    out.kept = out.kept.with_columns(pl.lit(None, LEDGER_DTYPES[c]).alias(c) for c in missing)
    if not keep_checks and pii.CHECKED in out.kept.columns:
        out.kept = out.kept.drop(pii.CHECKED)
    return out


def clean_shard(
    ws: Workspace, folder: str, source: str, cfg: CleanConfig, gate: GateColumns | None = None
) -> ShardCounts:
    """Clean one shard; with `gate`, also compute the columns the cleaned gate checks, here, in parallel."""
    shard = read_shard(ws, source)
    out = clean_frame(shard, cfg, keep_checks=gate is not None)
    write_shard(ws, docs_file(folder), out.kept, CLEANED)
    write_shard(ws, ledger_file(folder), out.ledger, LEDGER_PART)
    write_gate_columns(ws, folder, out.kept, gate)
    return ShardCounts(shard.height, out.kept.height, out.counts)


def rules_markdown() -> str:
    """The README's table of cleaning rules and the ledger reasons each records."""
    lines = [
        "| step | config key | profiles | what it does | ledger reasons it records |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in RULES:
        scope = " Judged only in `clean.quality_languages`." if rule.web else ""
        what = rule.doc().replace("<", "&lt;").replace(">", "&gt;")
        reasons = "<br>".join(f"`{r}`: {meaning}" for r, meaning in rule.reasons.items()) or "none (never drops)"
        profiles = ", ".join(p for p in PROFILES if p in rule.profiles)
        lines.append(f"| {rule.name} | `clean.{rule.name}` | {profiles} | {what}{scope} | {reasons} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(rules_markdown(), end="")
