"""Lactate step sheets (CSV or XLSX, one row per stage) → step dicts for the serializer.

Headers are matched loosely: intensity|power|speed|load|watt, lactate|la|bla|lactate_8 (the last lactate column wins
when several are timed, e.g. lactate_4 and lactate_8), heart_rate|hr, rpe|borg, length|duration (minutes) or
length_s (seconds).
"""
from __future__ import annotations

import csv
import io
import re

from servicekit.problems import ProblemError

MAX_BYTES = 2 * 1024 * 1024
ALIASES = {
    "intensity": ("intensity", "power", "power_w", "speed", "speed_kmh", "load", "watt", "watts", "w", "km_h"),
    "heart_rate": ("heart_rate", "hr", "hr_bpm", "heartrate", "pulse"),
    "rpe": ("rpe", "borg"),
    "length_s": ("length_s", "duration_s", "stage_length_s"),
    "length_min": ("length", "duration", "length_min", "stage_length", "minutes"),
}


def _norm(name) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name or "").strip().lower()).strip("_")


def _number(value, row_no: int, column: str):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        raise ProblemError(400, "validation-error", f"line {row_no}: {column} is not a number ({value!r})",
                           errors=[{"field": f"[{row_no}].{column}", "detail": "not a number"}]) from None


def _rows(filename: str, data: bytes) -> list[list]:
    if len(data) > MAX_BYTES:
        raise ProblemError(413, "payload-too-large", "A lactate sheet larger than 2 MB is not a lactate sheet.")
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        try:
            from openpyxl import load_workbook

            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            sheet = book.worksheets[0]
            return [list(r) for r, _ in zip(sheet.iter_rows(values_only=True), range(200))]
        except ProblemError:
            raise
        except Exception as exc:
            raise ProblemError(400, "unreadable-file", f"The XLSX file cannot be read: {type(exc).__name__}") from exc
    for encoding in ("utf-8-sig", "cp1251", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return list(csv.reader(io.StringIO(text), dialect))[:200]


def read_steps(filename: str, data: bytes) -> list[dict]:
    rows = [r for r in _rows(filename, data) if any(c not in (None, "") for c in r)]
    if len(rows) < 2:
        raise ProblemError(400, "validation-error", "The sheet needs a header line and at least one stage.")
    header = [_norm(h) for h in rows[0]]
    where: dict[str, int] = {}
    for key, names in ALIASES.items():
        for i, h in enumerate(header):
            if h in names:
                where.setdefault(key, i)
    lactate_cols = [i for i, h in enumerate(header) if h in ("lactate", "la", "bla", "lac", "lactate_mmol_l")
                    or re.fullmatch(r"(lactate|la|bla)_\d+", h)]
    if "intensity" not in where or not lactate_cols:
        raise ProblemError(400, "validation-error", "line 1: the header needs an intensity (or power/speed) column "
                           "and a lactate column", errors=[{"field": "header", "detail": "intensity and lactate"}])
    la = lactate_cols[-1]
    steps = []
    for n, row in enumerate(rows[1:], start=2):
        row = list(row) + [None] * (len(header) - len(row))
        step = {"intensity": _number(row[where["intensity"]], n, header[where["intensity"]]),
                "lactate": _number(row[la], n, header[la])}
        for key in ("heart_rate", "rpe", "length_s"):
            if key in where:
                step[key] = _number(row[where[key]], n, header[where[key]])
        if "length_s" not in where and "length_min" in where:
            minutes = _number(row[where["length_min"]], n, header[where["length_min"]])
            step["length_s"] = minutes * 60 if minutes is not None else None
        steps.append(step)
    return steps
