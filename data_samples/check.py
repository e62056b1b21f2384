#!/usr/bin/env python3
"""Validate data_samples/corpus/ against the tables in data_samples/README.md.

Usage:  python3 data_samples/check.py [--verbose]

Needs: beautifulsoup4 (+ lxml), pypdf, python-docx, pyarrow; optional: datasketch (enables
the MinHash-LSH simulation below) and polars (reads CSV exactly like Forge). No torch, no network, no import of forge_core.

What it does
------------
1. Extracts every document in corpus/ the way Forge's readers do (forge_core/readers/):
     .txt/.md     UTF-8 (BOM honoured); NUL bytes -> binary_content; invalid UTF-8 -> undecodable_text
     .html/.htm   lxml; drop script/style/noscript/template/svg/nav/header/footer/aside/form;
                  text of <main>, else <article>, else <body>; block elements become line breaks,
                  table cells are followed by " | "
     .pdf         needs a %PDF- header and %%EOF in the last 2 KB; pypdf text, pages joined by a blank line
     .docx        paragraphs and table rows (cells joined by " | ") in document order
     .eml         Subject, a blank line, then the text/plain part (else text/html converted as above)
     .csv/.jsonl/.parquet  one document per record, text from the first of `text`, `body`, `content`
   Ids are paths relative to corpus/, plus `#row=N` (1-based record / line number) for rows.
2. Cleans the text like forge_core/clean: Unicode NFC and whitespace normalisation, then e-mail
   addresses -> <EMAIL> and phone numbers -> <PHONE> with the pipeline's own regexes.
3. Computes the exact-duplicate key (lowercase, whitespace collapsed) and the Jaccard similarity of
   word-5-shingle sets (tokens: re.findall(r"\\w+", text.lower())) for every pair of documents.
4. Simulates Forge's dedup (exact hash groups, then MinHash LSH with num_perm=128, seed=1, recall_weight=0.9,
   threshold=0.8 and datasketch's band/row choice) and requires exactly the README's duplicates.
5. Compares everything with the README tables and prints every discrepancy; exit status 0 = clean.
"""
from __future__ import annotations

import codecs
import csv
import email
import email.policy
import io
import json
import logging
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # corrupt PDFs are expected

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
README = HERE / "README.md"

TEXT_FIELDS = ("text", "body", "content")
SUPPORTED = {".txt", ".text", ".md", ".markdown", ".rst", ".html", ".htm", ".xhtml", ".pdf", ".docx", ".eml",
             ".jsonl", ".ndjson", ".csv", ".parquet"}
CHROME_TAGS = ["script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form"]
BLOCK_TAGS = ["p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "pre", "blockquote",
              "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd", "figure", "figcaption", "hr"]

NEAR_THRESHOLD = 0.85      # planted near duplicates must reach this (brief); Forge's LSH threshold is 0.8
UNPLANTED_LIMIT = 0.60     # no unplanted pair may reach this
JUNK_MAX_WORDS = 20        # listed junk stays under this (the enterprise profile drops under 6 words)
REAL_MIN_WORDS = 40        # every other document has at least this many
LSH = {"threshold": 0.8, "num_perm": 128, "seed": 1, "shingle_words": 5, "recall_weight": 0.9}  # Forge's DedupConfig defaults

# --------------------------------------------------------------------------
# Cleaning (forge_core/clean/normalize.py and pii.py)
# --------------------------------------------------------------------------
INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}"
    r"|(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}"
    r")(?![\w])"
)
# Any digit run with phone-like separators; used to find numbers that only *look* like phones.
NUMBER_RUN = re.compile(r"(?<![\w+.])\+?\(?\d[\d\s().\-/]{5,}\d(?![\w])")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_phone(match: str) -> bool:
    digits = sum(c.isdigit() for c in match)
    return 8 <= digits <= 15 if match.startswith("+") else digits in (10, 11)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\r\n?", "\n", text).replace("\x0c", "\n\n")
    text = INVISIBLE.sub("", text)
    text = re.sub(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000]", " ", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"(?m)^ +| +$", "", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def redact(text: str) -> str:
    text = EMAIL.sub("<EMAIL>", text)
    return PHONE.sub(lambda m: "<PHONE>" if is_phone(m.group(0)) else m.group(0), text)


def clean(text: str) -> str:
    """The text Forge keeps: normalized, then PII replaced by placeholders."""
    return redact(normalize(text))


def find_pii(text: str):
    """Yield (type, value) for each e-mail address and phone number, in the order Forge redacts them."""
    text = normalize(text)
    for m in EMAIL.finditer(text):
        yield "email", m.group(0)
    for m in PHONE.finditer(EMAIL.sub("<EMAIL>", text)):
        if is_phone(m.group(0)):
            yield "phone", m.group(0)


def phone_like_non_phones(text: str):
    """Digit runs of 7+ digits that Forge would not redact (and that are not ISO dates)."""
    redacted = clean(text)
    for m in NUMBER_RUN.finditer(redacted):
        s = m.group(0)
        if sum(c.isdigit() for c in s) >= 7 and not ISO_DATE.fullmatch(s):
            yield s


def exact_key(text: str) -> str:
    return " ".join(clean(text).lower().split())


def word_count(text: str) -> int:
    return len(re.findall(r"\S+", clean(text)))


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", clean(text).lower())


def shingles(text: str, k: int = 5) -> frozenset:
    toks = tokens(text)
    if len(toks) < k:
        return frozenset([tuple(toks)])
    return frozenset(tuple(toks[i:i + k]) for i in range(len(toks) - k + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


# --------------------------------------------------------------------------
# Extraction (forge_core/readers/)
# --------------------------------------------------------------------------
class Unreadable(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def decode_text(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise Unreadable("undecodable_text", str(e)) from None
    if b"\x00" in data:
        raise Unreadable("binary_content", "NUL bytes in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise Unreadable("undecodable_text", str(e)) from None


def html_to_text(markup) -> str:
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(markup, "lxml")
    except Exception:  # noqa: BLE001 - lxml missing: html.parser gives the same text here
        soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(CHROME_TAGS):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for br in root.find_all("br"):
        br.replace_with("\n")
    for block in root.find_all(BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    for cell in root.find_all(["td", "th"]):
        cell.insert_after(" | ")
    return root.get_text()


def pdf_to_text(data: bytes) -> str:
    import pypdf

    if data.lstrip()[:5] != b"%PDF-":
        raise Unreadable("unreadable_pdf", "no %PDF- header")
    if b"%%EOF" not in data[-2048:]:
        raise Unreadable("unreadable_pdf", "truncated: no %%EOF end marker")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted_pdf", "password-protected PDF")
        return "\n\n".join(p.extract_text() or "" for p in reader.pages)
    except Unreadable:
        raise
    except Exception as e:  # noqa: BLE001
        raise Unreadable("unreadable_pdf", f"{type(e).__name__}: {e}") from None


def docx_to_text(data: bytes) -> str:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001
        raise Unreadable("unreadable_docx", f"{type(e).__name__}: {e}") from None
    lines = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                lines.append(" | ".join(cell.text.strip() for cell in row.cells))
            lines.append("")
        else:
            lines.append(block.text)
    return "\n".join(lines)


def eml_to_text(data: bytes) -> str:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    subject = str(msg.get("subject", "") or "").strip()
    part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if part is not None:
        content = part.get_content()
        body = html_to_text(content) if part.get_content_subtype() == "html" else content
    return f"{subject}\n\n{body}" if subject else body


def pick_field(names) -> str | None:
    return next((f for f in TEXT_FIELDS if f in names), None)


def extract_file(path: Path):
    """Return a list of (doc_id, text or None, reason or None, detail)."""
    rel = path.relative_to(CORPUS).as_posix()
    ext = path.suffix.lower()
    data = path.read_bytes()
    try:
        if ext not in SUPPORTED:
            raise Unreadable("unsupported_format", ext or "(no suffix)")
        if ext in (".txt", ".text", ".md", ".markdown", ".rst"):
            return [(rel, decode_text(data), None, "")]
        if ext in (".html", ".htm", ".xhtml"):
            if b"\x00" in data[:4096]:
                raise Unreadable("binary_content", "NUL bytes in an HTML file")
            return [(rel, html_to_text(data), None, "")]
        if ext == ".pdf":
            return [(rel, pdf_to_text(data), None, "")]
        if ext == ".docx":
            return [(rel, docx_to_text(data), None, "")]
        if ext == ".eml":
            return [(rel, eml_to_text(data), None, "")]
        if ext == ".csv":
            try:  # Forge reads CSV with polars; the csv module gives the same records here
                try:
                    import polars as pl

                    frame = pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8")
                    columns, values = frame.columns, None
                    field = pick_field(columns)
                    if field is not None:
                        values = frame[field].to_list()
                except ImportError:
                    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
                    rows = list(reader)
                    columns = reader.fieldnames or []
                    field = pick_field(columns)
                    values = [row[field] for row in rows] if field else None
            except Exception as e:  # noqa: BLE001
                raise Unreadable("unreadable_csv", str(e)) from None
            if field is None:
                raise Unreadable("missing_text_column", f"columns {columns}")
            return [(f"{rel}#row={i}", v or "", None, "") for i, v in enumerate(values, 1)]
        if ext in (".jsonl", ".ndjson"):
            out = []
            for i, line in enumerate(decode_text(data).splitlines(), 1):
                if not line.strip():
                    continue
                rid = f"{rel}#row={i}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    out.append((rid, None, "invalid_json_line", str(e)))
                    continue
                if not isinstance(obj, dict):
                    out.append((rid, None, "invalid_json_line", "not an object"))
                    continue
                field = pick_field(obj)
                if field is None:
                    out.append((rid, None, "missing_text_field", "no text field"))
                else:
                    v = obj[field]
                    out.append((rid, "" if v is None else str(v), None, ""))
            return out
        if ext == ".parquet":
            try:
                import pyarrow.parquet as pq

                table = pq.read_table(io.BytesIO(data))
            except Exception as e:  # noqa: BLE001
                raise Unreadable("unreadable_parquet", f"{type(e).__name__}: {e}") from None
            field = pick_field(table.column_names)
            if field is None:
                raise Unreadable("missing_text_column", f"columns {table.column_names}")
            return [(f"{rel}#row={i}", "" if v is None else str(v), None, "")
                    for i, v in enumerate(table.column(field).to_pylist(), 1)]
    except Unreadable as u:
        return [(rel, None, u.reason, u.detail)]
    raise AssertionError(ext)


def extract_corpus(corpus: Path = CORPUS):
    """Return (docs, failures): docs maps id -> extracted text, failures maps id -> (reason, detail)."""
    docs, failures = {}, {}
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        for doc_id, text, reason, detail in extract_file(path):
            if reason is None:
                docs[doc_id] = text
            else:
                failures[doc_id] = (reason, detail)
    return docs, failures


def sort_key(doc_id: str):
    """Survivor order: relative path (Python string order), then row number."""
    path, _, row = doc_id.partition("#row=")
    return (path, int(row) if row else 0)


# --------------------------------------------------------------------------
# Forge's dedup, simulated
# --------------------------------------------------------------------------
def simulate_dedup(texts: dict[str, str]):
    """texts: id -> extracted text of every document that survives cleaning.

    Returns ({dup: survivor} exact, {dup: survivor} near or None if datasketch is missing, stats).
    """
    groups = defaultdict(list)
    for d, t in texts.items():
        groups[exact_key(t)].append(d)
    exact = {}
    for members in groups.values():
        best = min(members, key=sort_key)
        exact.update({m: best for m in members if m != best})
    try:
        import hashlib

        import numpy as np
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        return exact, None, {}
    ids = sorted((d for d in texts if d not in exact), key=sort_key)
    sets = []
    for d in ids:
        toks = tokens(texts[d])
        n = LSH["shingle_words"]
        sets.append({" ".join(toks).encode()} if len(toks) < n else
                    {" ".join(toks[i:i + n]).encode() for i in range(len(toks) - n + 1)})
    sigs = np.stack([m.hashvalues.astype(np.uint64)
                     for m in MinHash.bulk(sets, num_perm=LSH["num_perm"], seed=LSH["seed"])])
    weights = (1 - LSH["recall_weight"], LSH["recall_weight"])
    lsh = MinHashLSH(threshold=LSH["threshold"], num_perm=LSH["num_perm"], weights=weights)
    b, r = lsh.b, lsh.r
    buckets = defaultdict(list)
    for i in range(len(ids)):
        for j in range(b):
            key = hashlib.blake2b(sigs[i, j * r:(j + 1) * r].tobytes(), digest_size=8).digest()
            buckets[(j, key)].append(i)
    pairs = {(x, y) for members in buckets.values() for x, y in combinations(members, 2)}
    edges = [(x, y) for x, y in pairs if float(np.mean(sigs[x] == sigs[y])) >= LSH["threshold"]]
    parent = list(range(len(ids)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in edges:
        parent[find(x)] = find(y)
    comp = defaultdict(list)
    for x, y in edges:
        comp[find(x)].extend((x, y))
    near = {}
    for members in comp.values():
        best = min(members)  # ids are sorted by survivor order
        near.update({ids[m]: ids[best] for m in set(members) if m != best})
    estimates = {(ids[x], ids[y]): float(np.mean(sigs[x] == sigs[y])) for x, y in pairs}
    return exact, near, {"bands": b, "rows": r, "candidate_pairs": len(pairs), "verified_pairs": len(edges),
                         "estimates": estimates}


# --------------------------------------------------------------------------
# README tables
# --------------------------------------------------------------------------
def parse_readme(path: Path = README) -> dict:
    """'## Heading' -> list of rows (lists of cells, backticks stripped), header row removed."""
    tables, current = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            tables[current] = []
            continue
        if current and line.startswith("|"):
            cells = [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue  # separator row
            tables[current].append(cells)
    return {k: v[1:] for k, v in tables.items()}


ENGLISH_STOP = set("the and of to a in is for with on that are be this as by it or from at not we our you".split())


def english_ratio(text: str) -> float:
    words = re.findall(r"[a-zA-Z]+", text.lower())
    return sum(w in ENGLISH_STOP for w in words) / max(1, len(words))


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------
def main(argv=None) -> int:
    verbose = "--verbose" in (argv if argv is not None else sys.argv[1:])
    problems: list[str] = []
    docs, failures = extract_corpus()
    t = parse_readme()
    names = ("Exact duplicates", "Near duplicates", "PII", "Junk", "Other languages", "Corrupt files")
    for name in names:
        if name not in t:
            problems.append(f"README: missing table '## {name}'")
    exact_rows = t.get("Exact duplicates", [])
    near_rows = t.get("Near duplicates", [])
    pii_rows = t.get("PII", [])
    junk_rows = t.get("Junk", [])
    lang_rows = t.get("Other languages", [])
    corrupt_rows = t.get("Corrupt files", [])
    widths = {"Exact duplicates": 3, "Near duplicates": 4, "PII": 3, "Junk": 3, "Other languages": 2, "Corrupt files": 3}
    for name in names:
        for r in t.get(name, []):
            if len(r) != widths[name]:
                problems.append(f"README: row with {len(r)} cells in '{name}': {r}")

    all_ids = set(docs) | set(failures)
    for table, rows, cols in (("Exact duplicates", exact_rows, (0, 1)), ("Near duplicates", near_rows, (0, 1)),
                              ("PII", pii_rows, (0,)), ("Junk", junk_rows, (0,)),
                              ("Other languages", lang_rows, (0,)), ("Corrupt files", corrupt_rows, (0,))):
        for r in rows:
            for c in cols:
                if r[c] not in all_ids:
                    problems.append(f"{table}: unknown document id {r[c]!r}")

    # ---- corrupt files
    listed_corrupt = {r[0]: r[2] for r in corrupt_rows}
    for doc_id, (reason, detail) in failures.items():
        if doc_id not in listed_corrupt:
            problems.append(f"Corrupt: {doc_id} failed with {reason} ({detail}) but is not listed")
        elif listed_corrupt[doc_id] != reason:
            problems.append(f"Corrupt: {doc_id} listed as {listed_corrupt[doc_id]} but fails with {reason}")
    for doc_id in listed_corrupt:
        if doc_id in docs:
            problems.append(f"Corrupt: {doc_id} is listed but extracts fine")

    # ---- junk and length (Forge drops documents with fewer than 20 words after cleaning)
    junk = {r[0] for r in junk_rows}
    for doc_id, text in docs.items():
        n = word_count(text)
        if doc_id in junk:
            if n >= JUNK_MAX_WORDS:
                problems.append(f"Junk: {doc_id} has {n} words (must be < {JUNK_MAX_WORDS})")
        elif n < REAL_MIN_WORDS or len(tokens(text)) < REAL_MIN_WORDS:
            problems.append(f"Length: {doc_id} has only {n} words and is not listed as junk")
    real = {d: x for d, x in docs.items() if d not in junk}

    # ---- PII: the README lists exactly what Forge's regexes find in kept or duplicate documents
    found = set()
    for doc_id, text in real.items():
        for typ, val in find_pii(text):
            found.add((doc_id, typ, val))
            if val not in text:
                problems.append(f"PII: {val!r} is not verbatim in the extracted text of {doc_id}")
        for s in phone_like_non_phones(text):
            problems.append(f"PII: {doc_id} contains phone-like number {s!r} that Forge would not redact")
    listed = {(r[0], r[1], r[2]) for r in pii_rows}
    for row in sorted(found - listed):
        problems.append(f"PII: found but not listed: {row}")
    for row in sorted(listed - found):
        problems.append(f"PII: listed but not found by Forge's regexes: {row}")
    for doc_id, _typ, val in listed:
        if doc_id in real and val in clean(real[doc_id]):
            problems.append(f"PII: {val!r} would survive cleaning in {doc_id}")

    # ---- other languages
    langs = {r[0]: r[1] for r in lang_rows}
    for doc_id in langs:
        if doc_id in real and english_ratio(real[doc_id]) > 0.12:
            problems.append(f"Languages: {doc_id} looks English (stop-word ratio {english_ratio(real[doc_id]):.2f})")
    for doc_id, text in real.items():
        if doc_id not in langs and english_ratio(text) < 0.08:
            problems.append(f"Languages: {doc_id} does not look English but is not listed")

    # ---- planted duplicates: brief's rules (exact key, Jaccard, survivor order)
    sh = {d: shingles(x) for d, x in real.items()}
    keys = {d: exact_key(x) for d, x in real.items()}
    cluster = {}

    def find(x):
        cluster.setdefault(x, x)
        while cluster[x] != x:
            cluster[x] = cluster[cluster[x]]
            x = cluster[x]
        return x

    for dup, surv, *_ in exact_rows + near_rows:
        cluster[find(dup)] = find(surv)
    for dup, surv, _how in exact_rows:
        if dup in keys and surv in keys and keys[dup] != keys[surv]:
            problems.append(f"Exact: {dup} and {surv} differ after normalisation")
    for dup, surv, jac, _edit in near_rows:
        if dup in sh and surv in sh:
            j = jaccard(sh[dup], sh[surv])
            if j < NEAR_THRESHOLD:
                problems.append(f"Near: {dup} vs {surv}: J={j:.3f} < {NEAR_THRESHOLD}")
            try:
                if abs(float(jac) - j) > 0.0015:
                    problems.append(f"Near: {dup} vs {surv}: README says {jac}, computed {j:.3f}")
            except ValueError:
                problems.append(f"Near: bad jaccard cell {jac!r}")
            if keys[dup] == keys[surv]:
                problems.append(f"Near: {dup} and {surv} are exact duplicates, not near duplicates")
    near_members = defaultdict(set)
    for dup, surv, *_ in near_rows:
        near_members[find(dup)].update((dup, surv))
    for members in near_members.values():
        best = min(members, key=sort_key)
        for m in members:
            if m != best and m in sh and best in sh and jaccard(sh[m], sh[best]) < NEAR_THRESHOLD:
                problems.append(f"Near: cluster member {m} has J < {NEAR_THRESHOLD} to survivor {best}")
    for d, c in Counter([r[0] for r in exact_rows + near_rows]).items():
        if c > 1:
            problems.append(f"Duplicates: {d} listed as a duplicate {c} times")

    # every pair with identical key or J >= limit must be planted (same cluster)
    by_key = defaultdict(list)
    for d, k in keys.items():
        by_key[k].append(d)
    for members in by_key.values():
        for a, b in combinations(sorted(members), 2):
            if find(a) != find(b):
                problems.append(f"Unplanted exact duplicate: {a} == {b}")
    index = defaultdict(list)
    for d, s in sh.items():
        for g in s:
            index[g].append(d)
    inter = Counter()
    for ds in index.values():
        if len(ds) > 1:
            for a, b in combinations(sorted(ds), 2):
                inter[(a, b)] += 1
    max_unplanted = (0.0, None)
    for (a, b), n in inter.items():
        j = n / (len(sh[a]) + len(sh[b]) - n)
        if find(a) != find(b):
            if j > max_unplanted[0]:
                max_unplanted = (j, (a, b))
            if j >= UNPLANTED_LIMIT:
                problems.append(f"Unplanted similar pair J={j:.3f}: {a} ~ {b}")

    # ---- what Forge's dedup will actually do (exact hash, then MinHash LSH)
    sim_exact, sim_near, stats = simulate_dedup(real)
    want_exact = {r[0]: r[1] for r in exact_rows}
    want_near = {r[0]: r[1] for r in near_rows}
    if sim_exact != want_exact:
        for d in sorted(set(sim_exact) | set(want_exact), key=sort_key):
            if sim_exact.get(d) != want_exact.get(d):
                problems.append(f"Forge exact dedup: {d} -> {sim_exact.get(d)}, README says {want_exact.get(d)}")
    if sim_near is None:
        print("note: datasketch not installed, MinHash-LSH simulation skipped")
    elif sim_near != want_near:
        for d in sorted(set(sim_near) | set(want_near), key=sort_key):
            if sim_near.get(d) != want_near.get(d):
                problems.append(f"Forge near dedup (LSH simulation): {d} -> {sim_near.get(d)}, README says {want_near.get(d)}")

    # ---- summary
    print(f"documents extracted: {len(docs)}  (rows: {sum(1 for d in docs if '#row=' in d)}, "
          f"files: {sum(1 for d in docs if '#row=' not in d)})")
    print(f"quarantined: {len(failures)}   total document ids: {len(all_ids)} "
          f"(of which rows: {sum(1 for d in all_ids if '#row=' in d)})")
    print("README rows: " + ", ".join(f"{n}={len(t.get(n, []))}" for n in names))
    if max_unplanted[1]:
        print(f"highest unplanted pair: J={max_unplanted[0]:.3f} {max_unplanted[1][0]} ~ {max_unplanted[1][1]}")
    if stats:
        print(f"LSH simulation: b={stats['bands']} r={stats['rows']}, candidate pairs={stats['candidate_pairs']}, "
              f"verified={stats['verified_pairs']}")
    if verbose:
        for dup, surv, jac, _e in near_rows:
            est = stats.get("estimates", {})
            e = est.get((dup, surv), est.get((surv, dup)))
            print(f"  near {dup} -> {surv}: J={jac} minhash-estimate={e}")
    if problems:
        print(f"\n{len(problems)} PROBLEM(S):")
        for p in problems:
            print("  - " + p)
        return 1
    print("\nCLEAN: every planted item matches README.md, Forge's dedup (simulated) finds exactly the planted "
          f"duplicates, and no unplanted pair reaches J >= {UNPLANTED_LIMIT} or is identical after cleaning.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
