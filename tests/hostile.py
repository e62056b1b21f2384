"""Hostile inputs, made by the tests themselves: files built to stall or exhaust a reader, and long
strings built to make a regex backtrack.

Run as a script, it is the regex prober: (pattern, flags, modes) lines in JSON on stdin, each probed
with every attack string, a "start" line printed before each probe, so that the test which runs it
under a timeout can name the probe that hung (sre cannot be interrupted, not even by signal.alarm).
"""

from __future__ import annotations

import io
import itertools
import json
import random
import re
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

N = 100_000  # characters in each attack string

PROSE = (
    "the quarterly calibration of pressure sensors requires a signed record from the line engineer and a copy "
    "of the reference gauge certificate before any unit leaves the Leeds plant for the customer"
).split()


def deep_html(depth: int = 100_000) -> bytes:
    """<div> nested `depth` deep around one word: 1.1 MB at 100,000."""
    return b"<html><body>" + b"<div>" * depth + b"deep" + b"</div>" * depth + b"</body></html>"


def one_line_text(size: int = 20 << 20) -> bytes:
    """`size` bytes of words on a single line, no line break anywhere."""
    rng = random.Random(0)
    words = [rng.choice(PROSE) for _ in range(size // 6)]
    return " ".join(words).encode()[:size]


def docx_bomb(expanded: int = 200 << 20) -> bytes:
    """A .docx (a zip) whose document.xml inflates to `expanded` bytes from a few hundred KB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            chunk = b" " * (1 << 20)
            for _ in range(expanded >> 20):
                f.write(chunk)
    return out.getvalue()


def many_pages_pdf(pages: int = 10_000) -> bytes:
    """A valid PDF of `pages` blank pages (pypdf writes it in well under a second)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def symlink_loop(folder: Path) -> list[Path]:
    """loop_a -> loop_b -> loop_a, and a link to the folder's own parent: reading either must end."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "loop_a").symlink_to("loop_b")
    (folder / "loop_b").symlink_to("loop_a")
    (folder / "up").symlink_to("..")
    return [folder / "loop_a", folder / "loop_b", folder / "up"]


def hog(limit: int) -> None:
    """A reader that takes memory, 16 MiB at a time, up to `limit`, then never returns."""
    held = []
    while sum(map(len, held)) < limit:
        held.append(bytearray(b"x" * (16 << 20)))
    time.sleep(3600)


# Regex attacks -------------------------------------------------------------------------------------
SINGLES = "a1 .-:\n/_@xA\t#|=\"'(),+[]<>é\u00a0"
PAIRS = "a1 .-\n("


def attacks(pattern: str, n: int = N) -> Iterator[tuple[str, str]]:
    """(label, string): long runs of one character and of two, and of the pattern's own literals
    (a near-match repeated: "On On On ...", "eyJ1eyJ1...", "-----BEGIN -----BEGIN ...")."""
    for c in SINGLES:
        yield repr(c), c * n
    for a, b in itertools.permutations(PAIRS, 2):
        yield repr(a + b), (a + b) * (n // 2)
    for literal in sorted(set(re.findall(r"[A-Za-z]{2,}|[^\w\s\\()\[\]{}?*+|^$]{2,}", pattern))):
        yield f"{literal!r} + 'a' * n", literal + "a" * n
        for tail in (" ", "1"):
            yield f"({literal + tail!r}) * n", (literal + tail) * (n // (len(literal) + 1))


def probe(lines: Iterator[str]) -> None:
    for line in lines:
        name, pattern, flags, modes = json.loads(line)
        rx = re.compile(pattern, flags)
        for label, text in attacks(pattern):
            for mode in modes:
                print(f"start {name} {mode} {label}", flush=True)
                if mode == "finditer":
                    for _ in rx.finditer(text):
                        pass
                else:
                    getattr(rx, mode)(text)
    print("done", flush=True)


if __name__ == "__main__":
    probe(sys.stdin)
