"""The junk rules were made faster (issue 18, point 4) without changing a single decision: each
faster measure is held to its first, letter-by-letter form (tests/junk_reference.py) on the
labelled set, on the demo corpus and on generated text in every script the rules look at."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import junk_reference as before
import pytest
from ftfy.badness import BADNESS_RE
from hypothesis import given, settings
from hypothesis import strategies as st

from forge_core.clean.junk import boilerplate, gibberish, mojibake
from forge_core.clean.junk.letters import alphabetic, letters

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "benchmarks" / "curation_quality" / "labelled.jsonl.gz"
SAMPLES = REPO / "data_samples" / "corpus"


def real_texts() -> list[str]:
    with gzip.open(LABELLED, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(SAMPLES.rglob("*")) if p.is_file()]
    return texts


def same_decisions(text: str) -> None:
    """The three rules decide alike, and their measures are equal, not merely on the same side."""
    bcfg, gcfg = boilerplate.BoilerplateConfig(), gibberish.GibberishConfig()
    assert boilerplate.boilerplate(text, bcfg) == before.boilerplate(text, bcfg)
    assert gibberish.gibberish(text, gcfg) == before.gibberish(text, gcfg)
    assert gibberish.alternation(text) == before.alternation(text)
    assert mojibake.marks_per_1000(text) == before.marks_per_1000(text)


def same_measures(text: str) -> None:
    lines = boilerplate.content_lines(text)
    assert boilerplate.prose_share(lines, 10) == before.prose_share(text, 10)
    assert boilerplate.chrome_share(lines, 12) == before.chrome_share(text, 12)
    for run in (2, 4, 5):
        assert gibberish.odd_share(text, run) == before.odd_share(text, run)
    assert mojibake.mixed_words(text) == before.mixed_words(text)
    assert letters(text) == len(before.LETTER.findall(text))
    assert alphabetic(text) == len(before.ALPHABETIC.findall(text))
    assert gibberish.anagram_share(text) == before.anagram_share(text)


def test_the_faster_rules_decide_as_before_on_real_text():
    texts = real_texts()
    assert len(texts) > 1900
    for text in texts:
        same_decisions(text)


# Letters of the scripts the rules tell apart, their vowels, separators, box drawing, lossy bytes,
# characters whose lower case is longer ("İ"), combining marks, Han, and lines.
ALPHABET = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzAEIOUYaeiouy ")
    + list("àéîõüÿāęőœÀÉÎ" + "αεηιουωΑΒΓδλ" + "аеиоуыэюяБВГджк" + "│┌─═╬░▓")
    + ["\n", "\n", " | ", " » ", " / ", ".", ",", "?", "-", "_", "0", "7", "\ufffd", "İ", "\u0301", "中", "©"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=400).map("".join))
def test_the_faster_rules_decide_as_before_on_generated_text(text):
    same_decisions(text)
    same_measures(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_the_faster_rules_decide_as_before_on_ascii_text(text):
    same_decisions(text)
    same_measures(text)


def needs_non_ascii(items) -> bool:
    """True when every string the parsed pattern matches holds a character outside ASCII."""
    from re import _constants as c
    from re import _parser

    def one_char(op, av) -> bool | None:  # does a one-character item match no ASCII character?
        if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY, c.CATEGORY):
            pattern = _parser.SubPattern(_parser.State(), [(op, av)])
            from re import _compiler

            compiled = _compiler.compile(pattern, re.X)
            return not any(compiled.fullmatch(chr(i)) for i in range(128))
        return None

    for op, av in items:
        simple = one_char(op, av)
        if simple:
            return True
        if op == c.SUBPATTERN and needs_non_ascii(av[-1]):
            return True
        if op == c.BRANCH and all(needs_non_ascii(alt) for alt in av[1]):
            return True
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1 and needs_non_ascii(av[2]):
            return True
    return False


def test_ascii_text_has_no_mojibake_marks_so_it_is_not_scanned():
    """marks_per_1000 skips ASCII text: proven here for the installed ftfy, alternative by
    alternative of its badness pattern, not by sampling."""
    from re import _parser

    assert needs_non_ascii(_parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags))
    assert mojibake.marks_per_1000("plain ASCII text | with -- pipes (c) 2024") == 0.0


def test_badness_matches_are_short_enough_for_its_windows():
    """mojibake.badness counts ftfy's pattern over windows of BADNESS_WIDTH - 1 characters around
    non-ASCII runs: exact while no match of the installed ftfy's pattern is longer."""
    from re import _parser

    low, high = _parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags).getwidth()
    assert low >= 1 and high <= mojibake.BADNESS_WIDTH


# Long ASCII stretches with marks of mojibake here and there: the windows split, merge and start
# at the text's start ("^" in ftfy's pattern), and matches sit at their edges.
SPARSE = st.lists(
    st.one_of(
        st.sampled_from(["Ã ", "Â ", "Ã©", "â€™", "×²", "вЂ", "ГўВЂВ™s", "cafц╘", "¶", "“", "é", "Œx", "Ø³Ù…"]),
        st.text(alphabet=st.sampled_from("abcXYZ .,?!\n"), min_size=0, max_size=30),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(SPARSE)
def test_badness_over_windows_is_ftfys_badness(text):
    from ftfy.badness import badness

    assert mojibake.badness(text) == badness(text)


@pytest.mark.parametrize("text", ["Ã©tÃ© cafÃ©", "cafц╘ and caf╨╡", "caf\ufffd", "п╟я─п╦ text"])
def test_mojibake_is_still_found(text):
    assert mojibake.marks_per_1000(text) == before.marks_per_1000(text) > 0
