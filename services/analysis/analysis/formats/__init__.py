"""Cart-export readers: turn a metabolic-cart export (bytes) into normalized CPET samples.

    from analysis.formats import read_export, ParsedExport, FormatError
    parsed = read_export(data, filename="test.xlsx")

The format is detected by content; ``filename`` only breaks ties and ``format_hint`` forces a
reader. Any problem with the upload is a :class:`FormatError` (never another exception).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from . import cortex, cosmed, generic, medgraphics, oxynet, tcx, text as textmod, vyntus, xmlsafe, zan
from .model import (COLUMNS, DEFAULT_LIMITS, METADATA_KEYS, FormatError, Limits, ParsedExport, only_format_errors,
                    upload_bytes)
from .tables import Table
from .heart_rate import HeartRateTrack, read_heart_rate
from .tcx import merge_heart_rate, read_tcx_heart_rate
from .xlsx import Workbook

__all__ = [
    "COLUMNS",
    "METADATA_KEYS",
    "FORMAT_IDS",
    "FormatError",
    "HeartRateTrack",
    "Limits",
    "ParsedExport",
    "detect_format",
    "merge_heart_rate",
    "read_export",
    "read_heart_rate",
    "read_tcx_heart_rate",
]

FORMAT_IDS = ("zan", "cortex", "cosmed", "vyntus", "medgraphics", "oxynet", "generic")

# Table readers: (format id, sniff(table) -> score, read(table, limits, container) -> ParsedExport)
_TABLE_READERS: list[tuple[str, Callable[[Table], float], Callable[..., ParsedExport]]] = [
    ("cortex", cortex.sniff, lambda t, lim, c: cortex.read(t, lim, container=c)),
    ("cosmed", cosmed.sniff, lambda t, lim, c: cosmed.read(t, lim)),
    ("vyntus", vyntus.sniff, lambda t, lim, c: vyntus.read(t, lim)),
    ("medgraphics", medgraphics.sniff, lambda t, lim, c: medgraphics.read(t, lim, container=c)),
    ("oxynet", oxynet.sniff, lambda t, lim, c: oxynet.read(t, lim)),
    ("generic", generic.sniff, lambda t, lim, c: generic.read(t, lim, container=c)),
]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_export(
    data: bytes,
    filename: str | None = None,
    format_hint: str | None = None,
    *,
    limits: Limits | None = None,
    max_bytes: int | None = None,
    max_rows: int | None = None,
) -> ParsedExport:
    """Read one cart export. Raises FormatError (slug/detail/status) for anything unreadable."""
    limits = limits or DEFAULT_LIMITS
    if max_bytes is not None:
        limits = dataclasses.replace(limits, max_bytes=int(max_bytes))
    if max_rows is not None:
        limits = dataclasses.replace(limits, max_rows=int(max_rows))
    if format_hint is not None and format_hint not in FORMAT_IDS:
        raise FormatError(
            "unknown-format-hint", f"format_hint '{format_hint}' is not one of {', '.join(FORMAT_IDS)}", status=400
        )
    data = upload_bytes(data, limits)
    with only_format_errors():
        return _read(data, filename, format_hint, limits)


def detect_format(data: bytes, filename: str | None = None) -> str:
    """Only the detected format id (reads the file)."""
    return read_export(data, filename).format


def _ext(filename: str | None) -> str:
    if not filename or "." not in filename:
        return ""
    return filename.rsplit(".", 1)[-1].lower()


def _read(data: bytes, filename: str | None, hint: str | None, limits: Limits) -> ParsedExport:
    ext = _ext(filename)
    if data[:4] in _ZIP_MAGIC:
        return _read_workbook(data, hint, limits)
    if data[:8] == _OLE_MAGIC:
        raise FormatError(
            "unsupported-spreadsheet", "legacy Excel .xls (or another OLE file) is not supported; save as .xlsx or CSV"
        )
    if data[:5] == b"%PDF-":
        raise FormatError("unknown-format", "this is a PDF report, not a data export")
    if data[:2] == b"PK" and ext in ("xlsx", "xlsm"):
        raise FormatError("truncated-file", "the .xlsx file is damaged (zip header broken)")
    textmod.check_row_count(data, limits)
    text, encoding = textmod.decode(data)
    head = text.lstrip()[:20000]
    if head.startswith("<"):
        return _read_xml(data, head, hint, limits)
    if hint in (None, "zan") and zan.sniff(head) > 0:
        return zan.read(text, limits)
    if hint == "zan":
        raise FormatError("unknown-format", "format_hint 'zan' but the file has no ZAN [person]/[parameter]/[Data] sections")
    lines = textmod.split_lines(text)
    delimiter = textmod.sniff_delimiter(lines)
    table = textmod.to_table(lines, delimiter)
    container = "txt" if (ext == "txt" or delimiter == "\t") else "csv"
    result = _read_table(table, container, hint, limits)
    result.metadata["format_detail"] = (
        f"{result.metadata.get('format_detail') or ''}; {encoding}, delimiter {delimiter!r}".lstrip("; ")
    )
    return result


def _read_xml(data: bytes, head: str, hint: str | None, limits: Limits) -> ParsedExport:
    if tcx.sniff(head) > 0:
        raise FormatError(
            "heart-rate-track-only",
            "this is a Garmin TCX heart-rate track, not a cart export; add it to its test "
            "(POST /api/v1/tests/{id}/heart-rate)",
        )
    root = xmlsafe.parse(data, "XML export")
    if xmlsafe.local(root.tag) != "Workbook":
        raise FormatError(
            "unknown-format", f"XML with root <{xmlsafe.local(root.tag)}> is not a known cart export"
        )
    sheets = xmlsafe.spreadsheetml_tables(root, limits.max_rows)
    if hint is None and cortex.sniff_xml(head) >= 1.0:
        hint = "cortex"
    last_error: FormatError | None = None
    for _name, table in sheets[:5]:
        try:
            return _read_table(table, "xml", hint, limits)
        except FormatError as exc:
            if exc.slug not in ("unknown-format", "no-header"):
                raise
            last_error = exc
    raise last_error or FormatError("no-data", "the XML workbook has no worksheets")


def _read_workbook(data: bytes, hint: str | None, limits: Limits) -> ParsedExport:
    wb = Workbook(data, limits)
    last_error: FormatError | None = None
    for index in range(min(len(wb.sheet_names), 5)):
        table = wb.rows(index)
        try:
            result = _read_table(table, "xlsx", hint, limits)
        except FormatError as exc:
            if exc.slug not in ("unknown-format", "no-header"):
                raise
            last_error = exc
            continue
        if index:
            result.metadata["format_detail"] += f"; sheet '{wb.sheet_names[index]}'"
        return result
    raise last_error or FormatError("no-data", "the workbook has no worksheets")


def _read_table(table: Table, container: str, hint: str | None, limits: Limits) -> ParsedExport:
    if len(table) > limits.max_rows + 1000:
        raise FormatError("too-many-rows", f"{len(table):,} rows; the limit is {limits.max_rows:,}", status=413)
    candidates = [(fid, sniff, read) for fid, sniff, read in _TABLE_READERS if hint is None or fid == hint]
    if not candidates:
        raise FormatError("unknown-format", f"format_hint '{hint}' does not apply to a {container} file")
    scored = sorted(
        ((sniff(table), order, fid, read) for order, (fid, sniff, read) in enumerate(candidates)),
        key=lambda s: (-s[0], s[1]),
    )
    score, _, fid, read = scored[0]
    if score <= 0 and hint is None:
        raise FormatError(
            "unknown-format",
            "no known cart layout and no header row with a time column plus VO2/VCO2/VE/HR/load "
            "columns was found",
        )
    return read(table, limits, container)
