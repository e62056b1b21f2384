"""Build the labelled curation-quality set: genuine documents and junk, from text nobody on this project wrote.

    .venv/bin/python benchmarks/curation_quality/build.py [--out benchmarks/curation_quality/labelled.jsonl.gz]

Writes one JSON object per line (id, label "genuine" | "junk", kind, source, derived, text), gzip-compressed
with a zero timestamp, so the same inputs give the same bytes. `derived` is null for text taken as it is, and
names the transformation for junk made from real text (gibberish, mojibake, keyword spam, encoded blobs of real
binary files, lorem ipsum windows). The sources are this machine's Debian packages (documentation, man pages,
minified JavaScript, certificates, logs in /var/log), the Python packages in the running venv (their data files,
generated code and bundled UI assets), ../shared/corpora/python-docs and data_samples/ (whose README labels
its junk). README.md beside this file lists each kind, its sources, the counts and the apt packages needed.

Every pick is deterministic: files are listed in sorted order and sampled with fixed seeds. Logs and installed
packages differ between machines, so the built file is committed and a rebuild elsewhere gives a different
(equally valid) set.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import importlib.util
import io
import json
import lzma
import os
import random
import re
import subprocess
import sys
import sysconfig
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
PYDOCS_RST = CORPORA / "python-docs" / "rst"
PYDOCS_HTML = CORPORA / "python-docs" / "html"
DATA_SAMPLES = REPO / "data_samples"
SITE = Path(sysconfig.get_paths()["purelib"])  # the running venv's site-packages
DOC = Path("/usr/share/doc")
MAN = Path("/usr/share/man")
OUT = HERE / "labelled.jsonl.gz"

SEED = 14  # the issue number; every sample below derives its generator from it and a name
GENUINE_MAX_CHARS = 6_000  # a section of documentation, cut at a paragraph boundary
JUNK_MAX_CHARS = 12_000  # enough for any filter to see what the junk is; keeps the file small
APT_PACKAGES = ("libjs-bootstrap4", "libjs-jquery-ui", "libjs-highlight.js", "libtext-lorem-perl")


@dataclass
class Doc:
    label: str
    kind: str
    source: str
    text: str
    derived: str | None = None


def rng(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def sample(items: list, k: int, name: str) -> list:
    """k items in a fixed pseudo-random order (all of them, shuffled, when there are fewer)."""
    items = list(items)
    rng(name).shuffle(items)
    return items[:k]


def spread(paths: list[Path], k: int, name: str, per_folder: int = 3) -> list[Path]:
    """Like sample, with at most per_folder files from any one folder (variety over volume)."""
    picked, per = [], Counter()
    for path in sample(paths, len(paths), name):
        if per[path.parent] < per_folder:
            picked.append(path)
            per[path.parent] += 1
        if len(picked) == k:
            break
    return picked


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    elif path.suffix == ".xz":
        data = lzma.decompress(data)
    return data.decode("utf-8", errors="replace")


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending at a blank line (else a line end) when one is in the last half."""
    text = text.strip("\n")
    if len(text) <= limit:
        return text
    head = text[:limit]
    for sep in ("\n\n", "\n"):
        at = head.rfind(sep)
        if at > limit // 2:
            return head[:at].rstrip()
    return head


WORD = re.compile(r"[^\W\d_]{2,}")  # a word of two or more letters, any script
ENGLISH_STOP = set("the and of to a in is for with on that are be this as by it or from at not you if can".split())


def words(text: str) -> int:
    return len(WORD.findall(text))


def english_ratio(text: str) -> float:
    tokens = re.findall(r"[a-z]+", text.lower())
    return sum(t in ENGLISH_STOP for t in tokens) / max(1, len(tokens))


def non_ascii_letter_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(ord(c) > 127 for c in letters) / max(1, len(letters))


LEGAL = re.compile(
    r"GNU (General|Lesser|Free Documentation) (Public )?Licen|Free Software Foundation|Copyright|©|\(C\) \d{4}"
    r"|This is free software|Lizenz|licence|license|licencia|licenza|licentie|licencj|лиценз|ライセンス|许可证"
    r"|debian-l10n|mailing list|Mailingliste|liste de diffusion|lista de correo|Übersetzung|traduction|translation",
    re.IGNORECASE,
)


# Genuine: python-docs reStructuredText sections -----------------------------------------------------------
RST_UNDERLINE = re.compile(r"^([=\-~^\"'*+#`:.])\1{2,}\s*$")
CODE_DIRECTIVE = re.compile(
    r"^(\s*)\.\. (code-block|sourcecode|code|doctest|testcode|testoutput|productionlist|literalinclude)::\s*(\S*)"
)
SHELL_LANGS = {"shell", "sh", "bash", "console", "shell-session", "sh-session", "bat", "doscon", "ps1", "powershell"}
CONFIG_LANGS = {"ini", "cfg", "toml", "yaml", "yml", "apache", "nginx", "dosini", "properties", "sshconfig"}
COMMAND = re.compile(r"^\s*(\$|%|C:\\.*>|>|#)\s+\S|^\s*(python3?|pip3?|py|git|npm|node|make|sudo|apt|./)\s+\S")
SECTION_LINE = re.compile(r"^\s*\[[\w .:\"-]+\]\s*$")
INI_LINE = re.compile(r"^\s*(\[[\w .:\"-]+\]\s*$|[\w.-]+\s*=\s*\S|[#;])")


def indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def rst_sections(text: str) -> list[tuple[str, str]]:
    """(title, section text from its heading to the next heading)."""
    lines = text.splitlines()
    heads = []
    for i in range(len(lines) - 1):
        title, under = lines[i].rstrip(), lines[i + 1]
        if title and not title.startswith(" ") and RST_UNDERLINE.match(under) and len(under.strip()) >= len(title):
            start = i - 1 if i > 0 and RST_UNDERLINE.match(lines[i - 1]) else i  # an overline
            heads.append((start, title))
    out = []
    for n, (start, title) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        out.append((title, "\n".join(lines[start:end]).strip("\n")))
    return out


Block = tuple[str, list[str]]  # (language named, or "literal"; the code lines)


def code_blocks(lines: list[str]) -> tuple[list[bool], list[Block]]:
    """Which lines are code (literal blocks after '::', code directives, doctests), and the blocks."""
    code, blocks, i, n = [False] * len(lines), [], 0, len(lines)
    while i < n:
        line, stripped = lines[i], lines[i].strip()
        if stripped.startswith(">>>"):
            start = i
            while i < n and lines[i].strip():
                code[i] = True
                i += 1
            blocks.append(("pycon", lines[start:i]))
            continue
        directive = CODE_DIRECTIVE.match(line)
        if directive or (stripped.endswith("::") and not stripped.startswith("..")):
            base, j = indent(line), i + 1
            while j < n and (not lines[j].strip() or (directive and lines[j].strip().startswith(":"))):
                j += 1
            k = j
            while k < n and (not lines[k].strip() or indent(lines[k]) > base):
                k += 1
            body = [lines[m] for m in range(j, k) if lines[m].strip()]
            for m in range(j, k):
                code[m] = bool(lines[m].strip())
            if body:
                blocks.append(((directive.group(3) or "code") if directive else "literal", body))
            i = max(k, i + 1)
            continue
        i += 1
    return code, blocks


def block_kind(lang: str, body: list[str]) -> str:
    lang = lang.lower()
    if lang in SHELL_LANGS or (lang == "literal" and sum(bool(COMMAND.match(x)) for x in body) * 2 >= len(body)):
        return "command_line"
    ini_like = any(SECTION_LINE.match(x) for x in body) and sum(bool(INI_LINE.match(x)) for x in body) * 2 >= len(body)
    if lang in CONFIG_LANGS or (lang == "literal" and ini_like):
        return "config"
    return "tech_doc_with_code"


def classify_code(blocks: list[Block]) -> str:
    """tech_doc, or the kind of code that most of its code lines are: command_line, config or other code."""
    if not blocks:
        return "tech_doc"
    lines: Counter = Counter()
    for lang, body in blocks:
        lines[block_kind(lang, body)] += len(body)
    top = max(lines.values())
    return "tech_doc_with_code" if lines["tech_doc_with_code"] == top else lines.most_common(1)[0][0]


def prose_words(lines: list[str], code: list[bool]) -> int:
    prose = [
        line
        for line, is_code in zip(lines, code, strict=True)
        if not is_code and not line.strip().startswith((".. ", "|", "+-", "+=", ":")) and not RST_UNDERLINE.match(line)
    ]
    return words("\n".join(prose))


def table_share(lines: list[str]) -> float:
    table = re.compile(r"^\s*(\+[-=+]+\+|\|.*\||=+(\s+=+)+\s*$)")
    nonblank = [line for line in lines if line.strip()]
    return sum(bool(table.match(line)) for line in nonblank) / max(1, len(nonblank))


def digit_share(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isdigit() for c in chars) / max(1, len(chars))


MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Â[\u00a0-\u00bf]|\ufffd")


URL = re.compile(r"\(?https?://\S+")
NUMBERS = re.compile(r"(?<![\w.])(0x[0-9a-fA-F]+|\d+([.,:]\d+)*)(?![\w.])")


def numeric_line_share(text: str) -> float:
    """The share of lines that hold three or more numbers: rows of a table of figures."""
    lines = [line for line in text.splitlines() if line.strip()]
    return sum(len(NUMBERS.findall(line)) >= 3 for line in lines) / max(1, len(lines))


def clean_prose(text: str) -> bool:
    """No licence or translation-credit boilerplate, not mostly digits, URLs or rows of figures, and no mojibake
    (some shipped man pages have it)."""
    return (
        not LEGAL.search(text)
        and digit_share(text) < 0.25
        and sum(len(u) for u in URL.findall(text)) < 0.3 * len(text)
        and numeric_line_share(text) < 0.3
        and not MOJIBAKE.search(text)
    )


def genuine_ok(text: str, lines: list[str], code: list[bool], min_prose: int = 30) -> bool:
    """A piece a person wrote to be read: enough prose, not mostly a table or numbers, no licence boilerplate."""
    return prose_words(lines, code) >= min_prose and table_share(lines) < 0.4 and clean_prose(text)


def pydocs_sections() -> list[Doc]:
    pieces: dict[str, list[Doc]] = {}
    for path in sorted(PYDOCS_RST.rglob("*.rst")):
        rel = path.relative_to(CORPORA).as_posix()
        if rel.endswith(("license.rst", "copyright.rst")) or "/whatsnew/changelog" in rel:
            continue
        for _title, section in rst_sections(path.read_text(encoding="utf-8")):
            text = cut(section, GENUINE_MAX_CHARS)
            lines = text.splitlines()
            code, blocks = code_blocks(lines)
            if not genuine_ok(text, lines, code):
                continue
            kind = classify_code(blocks)
            if kind == "tech_doc" and rel.startswith("python-docs/rst/faq/"):
                kind = "faq"
            pieces.setdefault(kind, []).append(Doc("genuine", kind, rel, text))
    want = {"tech_doc": 140, "tech_doc_with_code": 150, "command_line": 45, "config": 20, "faq": 40}
    return [d for kind, docs in sorted(pieces.items()) for d in sample(docs, want.get(kind, 0), f"pydocs-{kind}")]


# Genuine: Markdown and reST shipped in Debian documentation (Node.js API docs, pip docs) -------------------
FENCE = re.compile(r"^\s*(```+|~~~+)\s*(\{[\w-]+\}|[\w+-]*)")
MYST_CODE = {"{code-block}", "{code}", "{pip-cli}", "{literalinclude}"}  # other {directives} hold prose (notes)


def md_sections(text: str, level: str = r"#{2,3}") -> list[str]:
    heads = [m.start() for m in re.finditer(rf"(?m)^{level} \S", text)]
    bounds = [0, *heads, len(text)] if heads and heads[0] > 0 else [*heads, len(text)] if heads else [0, len(text)]
    return [text[a:b].strip("\n") for a, b in zip(bounds, bounds[1:], strict=False) if text[a:b].strip()]


def md_code(lines: list[str]) -> tuple[list[bool], list[Block]]:
    """Which lines are inside fenced code blocks, and the blocks (an unnamed fence is "literal")."""
    code, blocks, lang = [False] * len(lines), [], None
    for i, line in enumerate(lines):
        fence = FENCE.match(line)
        code[i] = lang is not None or bool(fence)
        if fence and lang is None:
            lang, body = fence.group(2).lower() or "literal", []
            if lang.startswith("{") and lang not in MYST_CODE:
                lang, code[i] = "prose", False
        elif fence:
            if lang != "prose":
                blocks.append((lang, body))
            code[i] = lang != "prose"
            lang = None
        elif lang == "prose":
            code[i] = False
        elif lang is not None and line.strip():
            body.append(line)
    return code, blocks


def debian_markdown_docs() -> list[Doc]:
    pieces: dict[str, list[Doc]] = {}
    paths = [
        *sorted((DOC / "nodejs" / "api").glob("*.md")),
        *sorted((DOC / "nodejs" / "contributing").rglob("*.md")),
        *sorted((DOC / "python3-pip" / "html").rglob("*.md*")),
        *sorted((DOC / "python3-pip" / "html").rglob("*.rst*")),
    ]
    for path in paths:
        if path.name.startswith(("changelog", "news", "license", "copyright")) or path.name == "all.md":
            continue
        text = read_text(path)
        is_rst = ".rst" in path.name
        sections = [s for _, s in rst_sections(text)] if is_rst else md_sections(text)
        for section in sections:
            piece = cut(section, GENUINE_MAX_CHARS)
            lines = piece.splitlines()
            code, blocks = code_blocks(lines) if is_rst else md_code(lines)
            if not genuine_ok(piece, lines, code):
                continue
            kind = classify_code(blocks)
            pieces.setdefault(kind, []).append(Doc("genuine", kind, str(path), piece))
    want = {"tech_doc": 40, "tech_doc_with_code": 80, "command_line": 35, "config": 10}
    return [d for kind, docs in sorted(pieces.items()) for d in sample(docs, want.get(kind, 0), f"debmd-{kind}")]


# Genuine: man pages, English and translated ------------------------------------------------------------------
MAN_ENV = {**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"}
SKIP_MAN_SECTIONS = {
    "NAME", "SYNOPSIS", "SEE ALSO", "AUTHOR", "AUTHORS", "COPYRIGHT", "REPORTING BUGS", "BUGS", "COLOPHON",
    "LICENSE", "AVAILABILITY", "GIT", "TRANSLATION", "RESOURCES", "WWW", "CONFORMING TO", "STANDARDS",
}  # fmt: skip


OVERSTRIKE = re.compile(r".\x08")  # grotty's bold (X BS X) and underline (_ BS X), as `col -b` removes them


def render_man(path: Path) -> str:
    """The page as `man -P cat` prints it at 80 columns, without hyphenation or justification."""
    done = subprocess.run(
        ["man", "--nh", "--nj", "-P", "cat", "-l", str(path)], capture_output=True, env=MAN_ENV, timeout=60
    )
    return OVERSTRIKE.sub("", done.stdout.decode("utf-8", errors="replace"))


def man_sections(rendered: str) -> list[tuple[str, str]]:
    """(HEADING, heading + dedented body) for each top-level section; the page's header and footer lines go."""
    lines = [line.rstrip() for line in rendered.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    lines = lines[1:-1]  # "LS(1)   User Commands   LS(1)" and the footer with the date
    out, heading, body = [], None, []
    for line in [*lines, "END"]:
        if line and not line[0].isspace():
            if heading is not None:
                out.append((heading, heading + "\n" + textwrap.dedent("\n".join(body)).strip("\n")))
            heading, body = line.strip(), []
        elif heading is not None:
            body.append(line)
    return out


def man_example_kind(path: Path, group: str, text: str) -> str:
    """Examples that show a prompt or the command are command lines; a file format's other examples are
    configuration; the rest (C, Perl, PAM stacks) code."""
    program = "gcloud" if group == "1g" else path.name.split(".")[0]
    shown = [line.strip() for line in text.splitlines()[1:] if line.startswith(" ") and line.strip()]
    if any(COMMAND.match(line) for line in shown):
        return "command_line"
    if group == "5":
        return "config"
    if group in ("1", "1g", "8") and any(line.startswith(program) for line in shown):
        return "command_line"
    return "tech_doc_with_code"


def man_page_docs() -> list[Doc]:
    pages = {
        "1": [p for p in sorted((MAN / "man1").iterdir()) if not p.name.startswith("gcloud")],
        "1g": [p for p in sorted((MAN / "man1").iterdir()) if p.name.startswith("gcloud")],
        "5": sorted((MAN / "man5").iterdir()),
        "7": sorted((MAN / "man7").iterdir()),
        "8": sorted((MAN / "man8").iterdir()),
        "3": sorted((MAN / "man3").iterdir()),
    }
    take = {"1": 110, "1g": 25, "5": 90, "7": 40, "8": 50, "3": 25}
    pieces: dict[str, list[Doc]] = {}
    for group, paths in pages.items():
        for path in sample(paths, take[group], f"man-{group}"):
            chosen = []
            for heading, section in man_sections(render_man(path)):
                text = cut(section, GENUINE_MAX_CHARS)
                if heading.upper() in SKIP_MAN_SECTIONS or words(text) < 30 or not clean_prose(text):
                    continue
                if len(re.findall(r"\w\(\d\w*\)|https?://", text)) > words(text) / 10:
                    continue  # a list of references
                kind = "man_page"
                if heading.upper().startswith("EXAMPLE"):
                    kind = man_example_kind(path, group, text)
                chosen.append(Doc("genuine", kind, str(path), text))
            examples = [d for d in chosen if d.kind != "man_page"]
            for d in examples[:1] + [d for d in chosen if d.kind == "man_page"][:2]:
                pieces.setdefault(d.kind, []).append(d)
    want = {"man_page": 130, "command_line": 45, "config": 15, "tech_doc_with_code": 15}
    return [d for kind, docs in sorted(pieces.items()) for d in sample(docs, want.get(kind, 0), f"man-{kind}")]


MAN_LANGUAGES = (
    "cs", "da", "de", "es", "fi", "fr", "hr", "hu", "id", "it", "ja", "ko", "nl", "pl", "pt", "pt_BR", "ro", "ru",
    "sl", "sr", "sv", "tr", "uk", "zh_CN", "zh_TW",
)  # fmt: skip
NON_LATIN = ("ja", "ko", "ru", "sr", "uk", "zh_CN", "zh_TW")


def translated_sections(lang: str, pages: int, name: str) -> list[tuple[str, str]]:
    """(page path, section) for sections in the page's language: not the first (NAME), not the last
    (translators' credits), no licence or mailing-list text, not left in English."""
    found = []
    paths = sorted(p for p in (MAN / lang).rglob("*") if p.is_file())
    for path in sample(paths, pages, name):
        sections = man_sections(render_man(path))[2:-1]  # NAME and SYNOPSIS come first
        for heading, section in sections:
            if heading.upper() in SKIP_MAN_SECTIONS:
                continue
            text = cut(section, GENUINE_MAX_CHARS)
            cjk = lang in ("ja", "ko", "zh_CN", "zh_TW")  # no spaces between words: count characters
            enough = len(re.sub(r"\s", "", text)) >= 200 if cjk else words(text) >= 30
            script = non_ascii_letter_share(text) >= 0.3 if lang in NON_LATIN else english_ratio(text) < 0.08
            if enough and script and clean_prose(text):
                found.append((str(path), text))
    return found


def non_english_docs() -> list[Doc]:
    docs = []
    for lang in MAN_LANGUAGES:
        found = translated_sections(lang, 12, f"l10n-{lang}")
        docs += [Doc("genuine", "non_english", path, text) for path, text in sample(found, 9, f"l10n-pick-{lang}")]
    return docs


# Genuine: Debian changelogs, NEWS.Debian, README files, git release notes, commented config files -----------
DEB_ENTRY = re.compile(r"(?m)^[a-z0-9][a-z0-9.+-]* \([^)]*\) [^;\n]*; urgency=\S+\n")


def debian_entries(path: Path) -> list[str]:
    text = read_text(path)
    starts = [m.start() for m in DEB_ENTRY.finditer(text)]
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def debian_changelog_docs() -> list[Doc]:
    docs = []
    changelogs = sorted(DOC.glob("*/changelog.Debian.gz"))
    for path in sample(changelogs, 140, "changelog"):
        for entry in debian_entries(path)[:4]:
            body = "\n".join(line for line in entry.splitlines()[1:] if not line.startswith(" -- "))
            if words(body) >= 15 and not re.search(r"(?i)^\s*\*\s*(no-change )?rebuild", body):
                docs.append(Doc("genuine", "changelog", str(path), cut(entry, GENUINE_MAX_CHARS)))
                break
    news = []
    for path in sorted(DOC.glob("*/NEWS.Debian.gz")):
        news += [Doc("genuine", "announcement", str(path), cut(e, GENUINE_MAX_CHARS)) for e in debian_entries(path)[:2]]
    news = [d for d in news if words(d.text) >= 25]
    return sample(docs, 80, "changelog-pick") + sample(news, 45, "news-pick")


def readme_docs() -> list[Doc]:
    paths = sorted(
        p for p in DOC.glob("*/*") if re.fullmatch(r"README(\.Debian|\.md|\.txt|\.rst)?(\.gz)?", p.name) and p.is_file()
    )
    paths += sorted((DOC / "git" / "contrib").rglob("README*"))
    docs: dict[str, list[Doc]] = {}
    for path in paths:
        text = read_text(path)
        sections = md_sections(text, r"#{1,3}") if ".md" in path.name else [s for s in re.split(r"\n{3,}", text)]
        for section in sections[:3]:
            piece = cut(section, GENUINE_MAX_CHARS)
            if words(piece) >= 30 and clean_prose(piece):
                docs.setdefault(str(path), []).append(Doc("genuine", "readme", str(path), piece))
    firsts = [pieces[0] for _, pieces in sorted(docs.items())]  # one piece per README: variety over volume
    return sample(firsts, 60, "readme-pick")


def release_note_docs() -> list[Doc]:
    paths = sorted((DOC / "git" / "RelNotes").glob("*.txt*"))
    docs = []
    for path in sample(paths, 70, "relnotes"):
        text = cut(read_text(path), GENUINE_MAX_CHARS)
        if words(text) >= 40:
            docs.append(Doc("genuine", "release_notes", str(path), text))
    return docs[:60]


def short_text_docs() -> list[Doc]:
    """Short pieces a person wrote: one paragraph of the Python docs, one item of git's release notes."""
    paragraphs = []
    for path in sorted(PYDOCS_RST.rglob("*.rst")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            if para[:1].isalpha() and 8 <= words(para) <= 30 and not para.rstrip().endswith(":") and clean_prose(para):
                paragraphs.append(Doc("genuine", "short_text", path.relative_to(CORPORA).as_posix(), para.strip()))
    items = []
    for path in sorted((DOC / "git" / "RelNotes").glob("*.txt*")):
        for item in re.split(r"\n(?= \* )|\n\s*\n", read_text(path)):
            item = item.strip()
            if item.startswith("* ") and 10 <= words(item) <= 40 and clean_prose(item):
                items.append(Doc("genuine", "short_text", str(path), item))
    return sample(paragraphs, 40, "short-pydocs") + sample(items, 30, "short-relnotes")


def config_file_docs() -> list[Doc]:
    """Commented configuration files: settings with the prose that explains them."""
    paths = sorted(p for p in Path("/etc").rglob("*") if p.is_file() and re.search(r"\.(conf|cfg)$|config$", p.name))
    paths += sorted(p for p in DOC.glob("*/examples/*") if p.is_file() and re.search(r"\.(conf|cfg|config)$", p.name))
    docs = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        comments = "\n".join(line.lstrip("#; ") for line in text.splitlines() if line.lstrip().startswith(("#", ";")))
        settings = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", ";"))]
        generated = re.search(r"(?i)autogenerated|generated by|do not edit", text)
        if words(comments) >= 60 and settings and clean_prose(text) and not generated:
            docs.append(Doc("genuine", "config", str(path), cut(text, GENUINE_MAX_CHARS)))
    return sample(docs, 30, "etc-config")


# Genuine (and its junk): data_samples, labelled by its README ------------------------------------------------
SAMPLE_KIND = {
    "tickets": "ticket",
    "mail": "email",
    "meetings": "meeting_notes",
    "policies": "policy",
    "wiki": "wiki_page",
    "kb": "kb_article",
    "product": "product_doc",
    "misc": "notice",
    "corrupt": "field_report",
}
SAMPLE_JUNK_KIND = {
    "misc/empty.txt": "empty",
    "misc/whitespace_only.txt": "empty",
    "wiki/sitemap.html": "empty",  # navigation only: Forge's HTML reader keeps no text of it
    "misc/test.txt": "placeholder_text",
    "policies/byod.txt": "placeholder_text",
    "product/roadmap_2025.md": "placeholder_text",
    "kb/kb_articles.jsonl#row=53": "placeholder_text",
    "tickets/tickets.csv#row=75": "gibberish",
    "mail/ok_thanks.eml": "stub",
    "meetings/meeting_notes.parquet#row=46": "stub",
}


def data_sample_docs() -> list[Doc]:
    spec = importlib.util.spec_from_file_location("data_samples_check", DATA_SAMPLES / "check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    texts, _failures = check.extract_corpus()
    tables = check.parse_readme()
    duplicates = {row[0] for row in tables["Exact duplicates"] + tables["Near duplicates"]}
    junk = {row[0] for row in tables["Junk"]}
    other_language = {row[0] for row in tables["Other languages"]} | {row[0] for row in tables["Legacy encodings"]}
    assert junk == set(SAMPLE_JUNK_KIND), "data_samples/README.md's junk table changed: update SAMPLE_JUNK_KIND"
    docs = []
    for doc_id, text in sorted(texts.items(), key=lambda item: check.sort_key(item[0])):
        source = f"data_samples/corpus/{doc_id}"
        if doc_id in duplicates:
            continue
        if doc_id in junk:
            docs.append(Doc("junk", SAMPLE_JUNK_KIND[doc_id], source, text))
        elif doc_id in other_language:
            docs.append(Doc("genuine", "non_english", source, cut(text, GENUINE_MAX_CHARS)))
        else:
            kind = SAMPLE_KIND[doc_id.split("/")[0]]
            docs.append(Doc("genuine", kind, source, cut(text, GENUINE_MAX_CHARS)))
    return docs


# Junk: minified and generated code ----------------------------------------------------------------------------
CORE_MINIFIED = {
    "jquery.min.js", "jquery-ui.min.js", "bootstrap.min.js", "bootstrap.min.css", "underscore.min.js",
    "highlight.min.js", "sizzle.min.js",
}  # fmt: skip


def minified_code_docs() -> list[Doc]:
    roots = [Path("/usr/share/javascript"), Path("/usr/lib/node_modules"), Path.home() / ".rustup", SITE, DOC]
    minified = sorted(
        {p.resolve() for root in roots if root.exists() for p in root.rglob("*.min.*") if p.suffix in (".js", ".css")}
    )
    bundles = sorted(SITE.glob("mlflow/server/js/build/static/js/*.chunk.js")) + sorted(
        SITE.glob("prefect/server/ui/assets/*.js")
    )
    source_maps = sorted(Path("/usr/share/javascript").rglob("*.min.js.map")) + sorted(
        Path("/usr/share/javascript").rglob("*.min.css.map")
    )
    generated = sorted(SITE.rglob("*_pb2.py"))
    core = [p for p in minified if p.name in CORE_MINIFIED]  # each Debian library's main file, then a sample
    rest = [p for p in minified if p.name not in CORE_MINIFIED]
    picks = (
        [(p, "minified") for p in core + spread(rest, 34 - len(core), "minified")]
        + [(p, "bundle") for p in sample(bundles, 10, "bundles")]
        + [(p, "source map") for p in sample(source_maps, 5, "maps")]
        + [(p, "generated") for p in spread([p for p in generated if p.stat().st_size > 4000], 8, "pb2", 2)]
    )
    docs = []
    for path, _what in picks:
        text = path.read_text(encoding="utf-8", errors="replace")
        if len(text) >= 300:
            docs.append(Doc("junk", "minified_code", source_path(path), text[:JUNK_MAX_CHARS]))
    return docs


def source_path(path: Path) -> str:
    """A venv file by its path inside site-packages (its package's version is in README.md), else absolute."""
    try:
        return "site-packages/" + path.relative_to(SITE).as_posix()
    except ValueError:
        return str(path)


# Junk: machine logs ----------------------------------------------------------------------------------------------
LOG_CHUNK_LINES = (4, 8, 15, 30, 60, 120)


def chunks(lines: list[str], name: str, limit: int) -> Iterable[tuple[int, list[str]]]:
    """Consecutive runs of lines of varied length, from fixed pseudo-random starts."""
    r = rng(name)
    for n in range(limit):
        size = LOG_CHUNK_LINES[n % len(LOG_CHUNK_LINES)]
        if len(lines) <= size:
            yield 0, lines
            return
        start = r.randrange(0, len(lines) - size)
        yield start, lines[start : start + size]


def machine_log_docs() -> list[Doc]:
    logs = [
        (Path("/var/log/dpkg.log"), 10),
        (Path("/var/log/apt/term.log"), 8),
        (Path("/var/log/apt/history.log"), 5),
        (Path("/var/log/apt/eipp.log.xz"), 4),
        (Path("/var/log/alternatives.log"), 3),
        (Path("/var/log/fontconfig.log"), 1),
        *[(p, 2) for p in sorted((DOC / "openjdk-17-jre-headless" / "test-amd64").glob("*.log*"))],
        *[(p, 1) for p in sorted((Path.home() / ".npm" / "_logs").glob("*.log"))[:6]],
    ]
    docs = []
    for path, n in logs:
        if not path.exists():
            continue
        lines = [line for line in read_text(path).splitlines() if line.strip()]
        seen = set()
        for start, piece in chunks(lines, f"log-{path}", n):
            if start in seen:
                continue
            seen.add(start)
            text = "\n".join(piece)[:JUNK_MAX_CHARS]
            docs.append(Doc("junk", "machine_log", f"{path} (lines {start + 1}-{start + len(piece)})", text))
    return docs


# Junk: encoded blobs -------------------------------------------------------------------------------------------
def xxd(data: bytes) -> str:
    """The layout of `xxd`: offset, 16 bytes as 8 groups of 4 hex digits, the printable characters."""
    rows = []
    for at in range(0, len(data), 16):
        row = data[at : at + 16]
        groups = " ".join(row[i : i + 2].hex() for i in range(0, len(row), 2))
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        rows.append(f"{at:08x}: {groups:<39}  {shown}")
    return "\n".join(rows)


def encoded_blob_docs() -> list[Doc]:
    docs = []
    certs = sorted(Path("/usr/share/ca-certificates/mozilla").glob("*.crt"))
    for i, path in enumerate(sample(certs, 16, "certs")):
        text = path.read_text(encoding="ascii")
        if i % 4 == 3:  # a bundle, as in ca-certificates.crt
            text += "\n" + "\n".join(p.read_text(encoding="ascii") for p in sample(certs, 2, f"bundle-{i}"))
        docs.append(Doc("junk", "encoded_blob", str(path), text.strip()[:JUNK_MAX_CHARS]))
    keys = sorted(Path("/etc/apt/trusted.gpg.d").glob("*.asc"))
    keys += sorted(Path("/usr/share/postgresql-common").rglob("*.asc"))
    for path in keys[:8]:
        docs.append(Doc("junk", "encoded_blob", str(path), path.read_text(encoding="ascii").strip()[:JUNK_MAX_CHARS]))
    for path in sorted(SITE.rglob("*.css")):
        if len(docs) >= 30:
            break
        for m in re.finditer(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]{400,}", path.read_text(errors="replace")):
            docs.append(Doc("junk", "encoded_blob", source_path(path), m.group(0)[:JUNK_MAX_CHARS]))
            break
    binaries = sorted(p for p in DOC.rglob("*") if p.suffix in (".png", ".gif", ".jpg") and p.stat().st_size > 1500)
    binaries += sorted(Path("/usr/share/keyrings").glob("*.gpg"))
    for i, path in enumerate(sample(binaries, 16, "binaries")):
        data = path.read_bytes()[: 6 * 1024]
        how = ("base64 (76-column lines)", "base64 (one line)", "hex dump (xxd layout)", "hex (xxd -p layout)")[i % 4]
        if i % 4 == 0:
            text = base64.encodebytes(data).decode()
        elif i % 4 == 1:
            text = base64.b64encode(data).decode()
        elif i % 4 == 2:
            text = xxd(data[:2048])
        else:
            text = "\n".join(data[at : at + 30].hex() for at in range(0, len(data), 30))
        docs.append(Doc("junk", "encoded_blob", str(path), text.strip()[:JUNK_MAX_CHARS], f"first bytes as {how}"))
    return docs


# Junk: numeric dumps ---------------------------------------------------------------------------------------------
def numeric_dump_docs() -> list[Doc]:
    files = [
        *sorted(SITE.glob("sklearn/datasets/data/*.csv*")),
        *sorted(SITE.glob("matplotlib/mpl-data/sample_data/*.csv")),
        *sorted(SITE.glob("scipy/spatial/tests/data/*.txt")),
        *sorted(SITE.glob("scipy/stats/tests/data/nist_anova/*.dat")),
        *sorted(SITE.glob("numpy/_core/tests/data/umath-validation-set-*.csv")),
        *sorted(SITE.glob("numpy/random/tests/data/*.csv")),
    ]
    picks = spread(files, 40, "numeric", 8)
    docs = []
    for i, path in enumerate(picks):
        lines = [line for line in read_text(path).splitlines() if line.strip()]
        if "nist_anova" in path.parts:  # the data below the "Data:" line, not the NIST header prose
            at = next((n for n, line in enumerate(lines) if line.startswith("Data:")), 0)
            lines = lines[at + 1 :]
        size = (10, 25, 60, 150)[i % 4]
        start = rng(f"numeric-{path}").randrange(0, max(1, len(lines) - size))
        piece = lines[start : start + size]
        if i % 2 == 0 and start > 0 and path.suffix == ".csv":
            piece = [lines[0], *piece]  # with its header row
        text = "\n".join(piece)[:JUNK_MAX_CHARS]
        if digit_share(text) > 0.4:
            docs.append(Doc("junk", "numeric_dump", f"{source_path(path)} (lines {start + 1}-{start + size})", text))
    return docs


# Junk: boilerplate-only pages -------------------------------------------------------------------------------------
BLOCK_TAGS = ["div", "p", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "br",
              "nav", "header", "footer", "section", "form", "hr"]  # fmt: skip


def block_text(elements: Iterable) -> str:
    """The text a browser shows: a line per block element, inline elements (links, code) run on."""
    lines = []
    for el in elements:
        for block in [el, *el.find_all(BLOCK_TAGS)]:
            block.insert_before("\n")
            block.append("\n")
        lines += [" ".join(line.split()) for line in el.get_text("").splitlines()]
    return "\n".join(line for line in lines if line)


def boilerplate_docs() -> list[Doc]:
    docs = []
    pages = sorted(PYDOCS_HTML.rglob("*.html"))
    for i, path in enumerate(sample(pages, 36, "chrome")):
        soup = BeautifulSoup(path.read_bytes(), "lxml")
        for tag in soup(["script", "style"]):
            tag.decompose()
        variant = i % 3
        if variant == 0:  # everything around the content: navigation, sidebar, footer
            soup.select_one("div.body").decompose()
            blocks, how = [soup.body], "page without its div.body"
        elif variant == 1:
            blocks, how = soup.select("div.related, div.sphinxsidebar"), "navigation bars and sidebar"
        else:
            blocks, how = soup.select("div.related")[-1:] + soup.select("div.footer"), "bottom navigation and footer"
        text = block_text(blocks)
        docs.append(Doc("junk", "boilerplate", f"{path.relative_to(CORPORA).as_posix()} ({how})", text))
    for path in sample(sorted((DOC / "nodejs" / "api").glob("*.html")), 4, "node-chrome"):
        soup = BeautifulSoup(path.read_bytes(), "lxml")
        blocks = soup.select("#column2") + soup.select("#column1 header, #column1 .header, #gtoc")
        docs.append(Doc("junk", "boilerplate", f"{path} (navigation column and header)", block_text(blocks)))
    for path in sample(sorted((DOC / "valgrind" / "html").glob("*.html")), 4, "valgrind-chrome"):
        soup = BeautifulSoup(path.read_bytes(), "lxml")
        docs.append(Doc("junk", "boilerplate", f"{path} (navigation tables)", block_text(soup.select("table.nav"))))
    return [d for d in docs if words(d.text) >= 3]


# Junk made from real text: keyword spam, gibberish, mojibake ------------------------------------------------------
SPAM_STOP = ENGLISH_STOP | set("this that with from have will your which when what there their also into more".split())


def keyword_spam(text: str, r: random.Random, form: int) -> tuple[str, str]:
    counts = Counter(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text) if w.lower() not in SPAM_STOP)
    keywords = [w for w, _ in counts.most_common(8)][: r.randint(3, 6)]

    def phrase() -> str:
        return " ".join(r.sample(keywords, r.randint(1, min(3, len(keywords)))))

    if form == 0:
        out = ", ".join(phrase() for _ in range(r.randint(40, 120)))
        how = "comma-separated phrases of 1-3 of its most frequent words"
    elif form == 1:
        out = "\n".join(" | ".join(r.sample(keywords, len(keywords))) for _ in range(r.randint(10, 30)))
        how = "lines of its most frequent words joined by ' | '"
    elif form == 2:
        sentence = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))[0]
        out = sentence + " " + " ".join(phrase() for _ in range(r.randint(60, 150)))
        how = "its first sentence, then 60-150 phrases of its most frequent words"
    else:
        out = " ".join(" ".join([w] * r.randint(3, 12)) for w in r.choices(keywords, k=r.randint(15, 40)))
        how = "its most frequent words, each repeated 3-12 times in a row"
    return out, f"keyword spam from its {len(keywords)} most frequent words: {how}"


QWERTY = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def keyboard_neighbours(ch: str) -> str:
    for row_index, row in enumerate(QWERTY):
        if ch in row:
            at = row.index(ch)
            near = row[max(0, at - 1) : at + 2].replace(ch, "")
            for other in (row_index - 1, row_index + 1):
                if 0 <= other < len(QWERTY):
                    near += QWERTY[other][max(0, at - 1) : at + 1]
            return near
    return ch


def gibberish(text: str, r: random.Random, form: int) -> tuple[str, str]:
    if form == 0:

        def shuffle(m: re.Match) -> str:
            letters = list(m.group(0))
            r.shuffle(letters)
            return "".join(letters)

        return re.sub(r"[A-Za-z]{2,}", shuffle, text), "the letters of each word shuffled"
    if form == 1:
        chars = list(text)
        r.shuffle(chars)
        return "".join(chars), "all characters of the passage shuffled"
    out = "".join(r.choice(keyboard_neighbours(c.lower())) if c.isalpha() and c.isascii() else c for c in text)
    return out, "keyboard mash: each letter replaced by a random neighbouring key on a QWERTY keyboard"


LEGACY = {"ru": "cp1251", "uk": "cp1251", "sr": "cp1251", "ja": "shift_jis", "zh_CN": "gbk", "zh_TW": "big5"}


def mojibake(text: str, lang: str, form: int) -> tuple[str, str]:
    if form == 0:
        once = text.encode("utf-8").decode("cp1252", errors="replace")
        return once.encode("utf-8").decode("cp1252", errors="replace"), "UTF-8 decoded as cp1252, twice (lossy)"
    if form == 1:
        return text.encode("utf-8").decode("cp1252", errors="replace"), "UTF-8 decoded as cp1252 (lossy)"
    if form == 2 and lang in LEGACY:
        legacy = LEGACY[lang]
        broken = text.encode(legacy, errors="replace").decode("utf-8", errors="replace")
        return broken, f"encoded as {legacy}, decoded as UTF-8 with replacement characters"
    return text.encode("utf-8").decode("koi8_r", errors="replace"), "UTF-8 decoded as KOI8-R"


def passages(n: int, name: str) -> list[tuple[str, str]]:
    """(source, text) of English python-docs paragraphs of 40-250 words, for the derived junk."""
    found = []
    for path in sorted(PYDOCS_RST.rglob("*.rst")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            para = para.strip()
            if para[:1].isalpha() and 40 <= words(para) <= 250 and not LEGAL.search(para):
                found.append((path.relative_to(CORPORA).as_posix(), para))
    return sample(found, n, name)


def derived_junk_docs() -> list[Doc]:
    docs = []
    sources = passages(170, "derived")
    for i, (source, text) in enumerate(sources[:40]):
        out, how = keyword_spam(text, rng(f"spam-{i}"), i % 4)
        docs.append(Doc("junk", "keyword_spam", source, out, how))
    for i, (source, text) in enumerate(sources[40:85]):
        out, how = gibberish(text, rng(f"gibberish-{i}"), i % 3)
        docs.append(Doc("junk", "gibberish", source, out, how))
    mojibake_sources = []
    for lang in (*NON_LATIN, "pl", "cs", "de", "fr"):
        found = translated_sections(lang, 6, f"mojibake-{lang}")
        if lang not in NON_LATIN:  # Latin scripts: only text with many accented letters
            found = [(p, t) for p, t in found if non_ascii_letter_share(t) >= 0.05]
        mojibake_sources += [(lang, p, t) for p, t in sample(found, 5 if lang in NON_LATIN else 3, f"mb-{lang}")]
    for i, (lang, path, text) in enumerate(mojibake_sources):
        out, how = mojibake(text, lang, i % 4 if lang in NON_LATIN else 0)  # Latin scripts: the most damaging
        docs.append(Doc("junk", "mojibake", path, out[:JUNK_MAX_CHARS], how))
    return docs


# Junk: placeholder text ------------------------------------------------------------------------------------------
def placeholder_docs() -> list[Doc]:
    docs = []
    lorem_file = SITE / "setuptools" / "_vendor" / "jaraco" / "text" / "Lorem ipsum.txt"
    lorem = lorem_file.read_text(encoding="utf-8")
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(lorem.split()))
    for i in range(8):
        start, size = rng(f"lorem-{i}").randrange(len(sentences)), (2, 5, 10, 20)[i % 4]
        window = [sentences[(start + k) % len(sentences)] for k in range(size)]
        docs.append(Doc("junk", "placeholder_text", source_path(lorem_file), " ".join(window), f"{size} sentences"))
    docs.append(Doc("junk", "placeholder_text", source_path(lorem_file), lorem.strip()))
    for seed in range(12):  # libtext-lorem-perl's generator, seeded
        script = f"srand({seed}); print join(qq(\\n\\n), map {{ Text::Lorem->new->paragraphs(1) }} 1..{1 + seed % 4});"
        done = subprocess.run(["perl", "-MText::Lorem", "-e", script], capture_output=True, text=True, check=True)
        docs.append(Doc("junk", "placeholder_text", "deb:libtext-lorem-perl", done.stdout.strip(), f"perl: {script}"))
    rich = (SITE / "rich" / "__main__.py").read_text(encoding="utf-8")
    docs += [
        Doc("junk", "placeholder_text", "site-packages/rich/__main__.py", m.group(1))
        for m in re.finditer(r'lorem = "([^"]+)"', rich)
    ]
    docs.append(Doc("junk", "placeholder_text", "/usr/share/git-core/templates/description",
                    Path("/usr/share/git-core/templates/description").read_text().strip()))  # fmt: skip
    return docs


# Assembly -------------------------------------------------------------------------------------------------------
GENUINE_BUILDERS: list[Callable[[], list[Doc]]] = [
    data_sample_docs,
    pydocs_sections,
    debian_markdown_docs,
    man_page_docs,
    non_english_docs,
    debian_changelog_docs,
    readme_docs,
    release_note_docs,
    short_text_docs,
    config_file_docs,
]
JUNK_BUILDERS: list[Callable[[], list[Doc]]] = [
    minified_code_docs,
    machine_log_docs,
    encoded_blob_docs,
    numeric_dump_docs,
    boilerplate_docs,
    derived_junk_docs,
    placeholder_docs,
]


def label_packages(docs: list[Doc]) -> None:
    """Prefix each system file's source with the Debian package that ships it (one dpkg -S call)."""
    paths = sorted({d.source.split(" ")[0] for d in docs if d.source.startswith(("/usr/", "/etc/"))})
    done = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True)
    owner = {}
    for line in done.stdout.splitlines():
        package, _, path = line.partition(": ")
        owner[path] = package.split(",")[0]
    for d in docs:
        path = d.source.split(" ")[0]
        if path in owner:
            d.source = f"deb:{owner[path]} {d.source}"


def assemble() -> list[dict]:
    docs: list[Doc] = []
    for builder in GENUINE_BUILDERS + JUNK_BUILDERS:
        made = builder()
        print(f"{builder.__name__:24s} {len(made):5d}  {dict(Counter(d.kind for d in made))}", file=sys.stderr)
        docs += made
    seen: set[str] = set()
    unique = []
    for d in docs:
        key = hashlib.sha256(" ".join(d.text.lower().split()).encode()).hexdigest()
        if key in seen and d.text.strip():
            continue
        seen.add(key)
        unique.append(d)
    label_packages(unique)
    unique.sort(key=lambda d: (d.label, d.kind))
    numbers: Counter = Counter()
    rows = []
    for d in unique:
        numbers[d.kind] += 1
        rows.append(
            {
                "id": f"{d.kind}-{numbers[d.kind]:04d}",
                "label": d.label,
                "kind": d.kind,
                "source": d.source,
                "derived": d.derived,
                "text": d.text,
            }
        )
    return rows


def write(rows: list[dict], path: Path) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        for row in rows:
            f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    path.write_bytes(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = assemble()
    write(rows, args.out)
    counts = Counter((r["label"], r["kind"]) for r in rows)
    for (label, kind), n in sorted(counts.items()):
        print(f"{label:8s} {kind:20s} {n:5d}")
    totals = Counter(r["label"] for r in rows)
    print(f"{dict(totals)}  {args.out} {args.out.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
