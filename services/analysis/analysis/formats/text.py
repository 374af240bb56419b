"""Text exports: decoding, binary-junk rejection, delimiter sniffing, splitting into a table.

Cart software writes whatever the Windows code page of the lab PC was: Latin-1/CP1252 (ZAN,
German CORTEX), UTF-8 with or without BOM, sometimes UTF-16 (Excel "Unicode text").
"""
from __future__ import annotations

import csv
import io
import re

from .model import FormatError, Limits

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

# Control characters other than tab/CR/LF/FF: real exports never contain them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def detect_encoding(data: bytes) -> str:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc
    head = data[:4096]
    if len(head) >= 4:
        # UTF-16 without BOM: every other byte is NUL for ASCII-range text.
        even_nul = head[0::2].count(0) / max(1, len(head[0::2]))
        odd_nul = head[1::2].count(0) / max(1, len(head[1::2]))
        if odd_nul > 0.4 and even_nul < 0.05:
            return "utf-16-le"
        if even_nul > 0.4 and odd_nul < 0.05:
            return "utf-16-be"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def decode(data: bytes) -> tuple[str, str]:
    """Bytes -> (text, encoding). Refuses binary junk with ``unknown-format``."""
    encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:  # truncated UTF-16 (odd byte count) or bad surrogates
        if encoding.startswith("utf-16"):
            raise FormatError(
                "truncated-file", f"UTF-16 text is cut off or damaged near byte {exc.start}"
            ) from exc
        text = data.decode("latin-1")
        encoding = "latin-1"
    if text.startswith("\ufeff"):
        text = text[1:]
    sample = text[:65536]
    if sample:
        n_control = len(_CONTROL.findall(sample))
        if n_control > max(2, len(sample) // 200):
            raise FormatError(
                "unknown-format",
                f"the file looks binary ({n_control} control bytes in the first {len(sample)} "
                "characters), not a text, XML or XLSX export",
            )
    return text, encoding


def check_row_count(data: bytes, limits: Limits) -> None:
    """Refuse huge text files before splitting them (counting newlines runs at memory speed)."""
    n_lines = data.count(b"\n")
    if n_lines > limits.max_rows + 1000:
        raise FormatError(
            "too-many-rows",
            f"the file has {n_lines:,} lines; the limit is {limits.max_rows:,} rows",
            status=413,
        )


_DELIMITERS = ("\t", ";", ",", "|")


def sniff_delimiter(lines: list[str]) -> str:
    """Pick the delimiter that splits the most lines into the same number (>1) of fields."""
    sample = [ln for ln in lines[:200] if ln.strip()][:120]
    if not sample:
        return ","
    best, best_score = ",", -1.0
    for delim in _DELIMITERS:
        counts = [ln.count(delim) for ln in sample]
        nonzero = [c for c in counts if c > 0]
        if not nonzero:
            continue
        # Most frequent field count in the lower part of the sample (data rows, not metadata).
        tail = nonzero[len(nonzero) // 3 :] or nonzero
        mode = max(set(tail), key=tail.count)
        consistent = sum(1 for c in counts if c == mode)
        score = consistent + 0.01 * mode
        if score > best_score:
            best, best_score = delim, score
    return best


def split_lines(text: str) -> list[str]:
    return text.splitlines()


def to_table(lines: list[str], delimiter: str) -> list[list[str]]:
    """Split lines into cells; the csv module only when quotes are present (it is slower)."""
    if any('"' in ln for ln in lines[:500]) or '"' in "".join(lines[-50:]):
        reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
        try:
            return [row for row in reader]
        except csv.Error as exc:
            raise FormatError("malformed-csv", f"CSV quoting is broken: {exc}") from exc
    return [ln.split(delimiter) for ln in lines]


def looks_like_decimal_comma(table: list[list[object]], start: int, delimiter: str) -> bool:
    """German/Norwegian/Russian exports write 1,23 — only possible when ',' is not the delimiter."""
    if delimiter == ",":
        return False
    hits = 0
    for row in table[start : start + 50]:
        for cell in row:
            if isinstance(cell, str) and _DECIMAL_COMMA.match(cell.strip()):
                hits += 1
    return hits > 0


_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
