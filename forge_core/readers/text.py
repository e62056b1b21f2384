"""Plain text (.txt, .md, .rst), and the decoding of text that every text-based format shares:
UTF-8 with or without a BOM, else the legacy encoding it was written in."""

from __future__ import annotations

import codecs

from forge_core.readers.extracted import Record, Unreadable

# Without a BOM and without NUL bytes (checked first), UTF-16/32 are never the plausible reading of
# a file: charset-normalizer would otherwise read short Latin-1 text such as b"caf\xe9" as UTF-16.
WIDE_ENCODINGS = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is honoured, including UTF-16's), else the legacy encoding it was written in.

    NUL bytes mean this is not a text file. Bytes that are neither UTF-8 nor any plausible legacy
    encoding are undecodable: guessing would feed the model garbage.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise Unreadable("undecodable_text", f"invalid UTF-16 at byte {e.start}") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise Unreadable("binary_content", f"NUL byte at offset {nul}: not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        text = decode_legacy(data)
        if text is None:
            raise Unreadable(
                "undecodable_text",
                f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}) and no plausible legacy "
                "encoding found (re-save the file as UTF-8)",
            ) from None
        return text


def decode_legacy(data: bytes) -> str | None:
    """The text in the most plausible legacy encoding (charset-normalizer), or None if there is none.

    Single-byte encodings often read the same bytes equally well (cp1250 and cp1252 both make sense
    of most Western text, but turn 'naïve' into 'naďve'): among the best-scoring readings, Windows-1252
    wins, because it is what Western office software wrote (and what 'latin-1' means on the web).
    """
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_exclusion=WIDE_ENCODINGS)
    best = matches.best()
    if best is None:
        return None
    if any(m.chaos <= best.chaos and "cp1252" in m.could_be_from_charset for m in matches):
        return data.decode("cp1252")
    return str(best)


def read_text(data: bytes) -> list[Record]:
    return [Record(decode_text(data))]
