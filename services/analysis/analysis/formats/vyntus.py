"""Vyaire Vyntus CPX text export (tab-separated, language of the PC: here Norwegian).

    ID-nummer:<TAB>BT2096
    <blank>
    Tid  Last  RPM  HF  V'O2/kg  V'O2  V'CO2  RER  V'E  BF  VTex  ...   labels
    min  W     1/min 1/min (mL/min)/kg mL/min ...                        units
     00:56 ...                                                          rows (mm:ss)

Rows are usually averages (here 1 min). No body mass in the header: estimated from
V'O2 / V'O2/kg and reported as such.
"""
from __future__ import annotations


from . import tables as T
from .assemble import finish
from .model import FormatError, Limits, ParsedExport

FORMAT_ID = "vyntus"

_ID_LABELS = {T.norm_name(s) for s in ("ID-nummer:", "ID-Nummer:", "ID number:", "ID-number:", "ID:", "Patient ID:")}


def sniff(table: T.Table) -> float:
    first = [row[0] for row in table[:5] if row and isinstance(row[0], str)]
    has_id = any(T.norm_name(c.rstrip(":") + ":") in _ID_LABELS or T.norm_name(c) in _ID_LABELS for c in first)
    cmap = T.find_header(table, max_scan=20)
    if cmap is None:
        return 0.0
    header = [c for c in table[cmap.header_row] if isinstance(c, str)]
    apostrophe = sum(1 for c in header if c.strip().startswith(("V'", "V’")))
    score = 0.0
    if has_id:
        score += 0.5
    if apostrophe >= 2 and str(table[cmap.header_row][0]).strip() != "t":
        score += 0.3
    if any(c.strip() in ("VTex", "V'E", "BF") for c in header):
        score += 0.1
    # Without the ID line the V'-style labels are shared with CORTEX/generic exports.
    return min(score, 0.9) if has_id else min(score, 0.2)


def read(table: T.Table, limits: Limits) -> ParsedExport:
    cmap = T.find_header(table, max_scan=20)
    if cmap is None:
        raise FormatError("no-header", "Vyntus export: no label row with a time column was found")
    ex = T.extract(table, cmap, from_workbook=False)
    warnings = ex.notes
    meta = {"device": "Vyaire Vyntus CPX", "format_detail": "Vyntus CPX tab-separated text export"}
    T.estimate_body_mass(ex, meta, warnings)
    return finish(FORMAT_ID, meta, ex.samples, warnings, limits, ex.rows)
