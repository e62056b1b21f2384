"""Normalization, language id and the web-text quality rules (the web profile), each on a document built to trip it."""

from __future__ import annotations

import polars as pl
import pytest
from documents import doc_frame

from forge_core.clean.c4 import C4Config, c4_document
from forge_core.clean.gopher import GopherRepetitionConfig, repetition_reason
from forge_core.clean.pipeline import CleanConfig, clean_frame

PROSE = (
    "The maintenance team replaced the pressure sensor on line four after the morning shift reported drift. "
    "Readings had wandered by almost two percent over the week, which is more than the calibration limit allows. "
    "With the new sensor installed, the values settled within a tenth of a percent of the reference gauge.\n\n"
    "Operators should log every manual adjustment in the shift book, and note the time and the reason. "
    "If the drift returns, the next step is to check the cable run for damage near the cooling fans. "
    "The spare parts list has been updated, and two more sensors were ordered for the stores."
)

NO_STOP_WORDS = (
    "Pump four failed again Monday morning. Operators logged pressure drift near eleven percent. "
    "Maintenance swapped sensor cables during night shift. Readings stabilised around reference values. "
    "Spare sensors arrive next week from Hamburg supplier. Engineering reviews cooling fan placement soon. "
    "Quality audit scheduled Thursday afternoon. Line supervisors confirm staffing plans. "
    "Warehouse stock counts match records. Budget impact remains small overall. Further updates follow Friday."
)


def frame(*texts: str) -> pl.DataFrame:
    return doc_frame(list(texts), [f"file:///docs/{i}.txt" for i in range(len(texts))])


def outcome(text: str, **clean) -> tuple[str, str | None]:
    """('kept', cleaned text) or ('dropped', reason) for one document through the whole chain."""
    out = clean_frame(frame(text), CleanConfig.model_validate({"profile": "web", **clean}))
    if out.kept.height:
        return "kept", out.kept["text"][0]
    return "dropped", out.ledger["reason"][0]


def test_good_prose_passes_every_rule_unchanged():
    assert outcome(PROSE) == ("kept", PROSE)


@pytest.mark.parametrize(
    "text, reason",
    [
        (PROSE + "\n\n" + PROSE.split("\n\n")[1] * 1 + "\n\n" + PROSE.split("\n\n")[1], "gopher_duplicate_paragraphs"),
        ("Short note about the pump. It works again now. Thanks to all. See you. Bye now.", "too_short"),
        (" ".join(f"#topic{i}" for i in range(40)) + ". " + PROSE, "gopher_symbols"),
        ("\n".join("- " + s for s in PROSE.replace("\n\n", " ").split(". ")), "gopher_bullet_lines"),
        (NO_STOP_WORDS, "gopher_few_stop_words"),
        (PROSE + " Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "c4_lorem_ipsum"),
        (PROSE + "\n\nThe config is {\"retries\": 3} for the pump controller service.", "c4_curly_bracket"),
        ("\n".join(["Pump status ok and the line is running.", "Shift two", "Sensor four", "Valve one"] * 8)
         + "\n" + PROSE, "gopher_duplicate_lines"),
    ],
)  # fmt: skip
def test_each_rule_drops_its_kind_of_document_with_its_own_reason(text, reason):
    assert outcome(text) == ("dropped", reason)


def test_c4_removes_javascript_policy_and_citation_lines_but_keeps_paragraphs():
    text = PROSE + "\n\nPlease enable JavaScript to view the comments on this page.\nRead our cookie policy here today."
    kept, cleaned = outcome(text.replace("two percent", "two percent[3]"))
    assert kept == "kept" and "JavaScript" not in cleaned and "cookie" not in cleaned and "[3]" not in cleaned
    assert "\n\n" in cleaned  # paragraph breaks survive C4's line rules


def test_c4_counts_sentences_after_line_removal():
    text, reason = c4_document("One line here. Two more here.\nok", C4Config())
    assert (text, reason) == (None, "c4_too_few_sentences")


def test_repetition_of_ngrams_is_caught_without_repeated_lines():
    spam = " ".join(["buy cheap pumps now"] * 40) + " " + PROSE
    assert repetition_reason(spam, GopherRepetitionConfig()).startswith(("gopher_top_", "gopher_duplicate_"))
    assert repetition_reason(PROSE, GopherRepetitionConfig()) is None


def test_quality_rules_only_judge_the_configured_languages():
    german = (
        "Die Wartung hat den Drucksensor an Linie vier ersetzt. Die Werte lagen um zwei Prozent daneben. "
        "Bitte jede Anpassung im Schichtbuch vermerken: {Zeit, Grund}. Danke an alle Beteiligten im Werk."
    )
    assert outcome(german, length={"min_words": 5})[0] == "kept"  # curly bracket, few words: not judged
    assert outcome(german, length={"min_words": 5}, quality_languages=[])[0] == "dropped"


def test_language_is_identified_and_an_allow_list_drops_the_rest():
    texts = [PROSE, "Die Wartung hat den Drucksensor an Linie vier ersetzt, weil die Werte seit einer Woche abweichen.",
             "L'équipe de maintenance a remplacé le capteur de pression sur la ligne quatre ce matin.",
             "保守チームは今朝、4号ラインの圧力センサーを交換しました。"]  # fmt: skip
    cfg = CleanConfig.model_validate({"length": {"min_words": 5}, "quality_languages": ["xx"]})
    out = clean_frame(frame(*texts), cfg)
    assert out.kept["language"].to_list() == ["en", "de", "fr", "ja"]
    assert all(s > 0.9 for s in out.kept["language_score"])
    assert out.counts["language.en"] == 1

    only_en = cfg.model_copy(update={"language": cfg.language.model_copy(update={"allow": ["en"]})})
    out = clean_frame(frame(*texts), only_en)
    assert out.kept["language"].to_list() == ["en"]
    assert set(out.ledger["reason"]) == {"language_not_allowed"}
    assert out.ledger.filter(pl.col("language") == "de")["detail"][0].startswith("de (")


def test_normalizer_repairs_mojibake_controls_and_blank_lines():
    broken = "The cafÃ© on site reopens Monday.\u200b\x07\n\n\n\n\nIt serves    lunch from 11:30."
    cfg = CleanConfig.model_validate({"length": {"min_words": 0}, "quality_languages": ["xx"]})
    out = clean_frame(frame(broken), cfg)
    assert out.kept["text"][0] == "The café on site reopens Monday.\n\nIt serves lunch from 11:30."
    assert out.counts["normalize.chars_out"] < out.counts["normalize.chars_in"]


def test_every_step_counts_documents_and_characters_in_and_out():
    out = clean_frame(frame(PROSE, "too short"), CleanConfig(profile="web"))
    assert (out.counts["length.docs_in"], out.counts["length.docs_out"]) == (2, 1)
    steps = [k.removesuffix(".docs_in") for k in out.counts if k.endswith(".docs_in")]
    assert steps == [
        "normalize",
        "language",
        "pii",
        "conversation",
        "length",
        "gopher_repetition",
        "gopher_quality",
        "c4",
        "fineweb",
        "recount",
    ]
    assert out.counts["fineweb.chars_out"] == len(PROSE)


def test_profiles_choose_the_rules_and_enabled_overrides_them():
    def steps(cfg: CleanConfig) -> list[str]:
        out = clean_frame(frame(PROSE), cfg)
        return [k.removesuffix(".docs_in") for k in out.counts if k.endswith(".docs_in")]

    enterprise = steps(CleanConfig())
    assert "c4" not in enterprise and {"logs", "encoded", "gibberish", "mojibake"} <= set(enterprise)
    assert "logs" not in steps(CleanConfig(profile="web")) and "fineweb" in steps(CleanConfig(profile="web"))
    assert steps(CleanConfig(profile="none")) == ["normalize", "language", "pii", "conversation", "recount"]
    forced = steps(CleanConfig.model_validate({"c4": {"enabled": True}, "logs": {"enabled": False}}))
    assert "c4" in forced and "logs" not in forced
