"""MedGraphics (Breeze) breath-by-breath exports and their CSV/XLSX copies.

Header: Time, Ex Time, Time (Clock), Speed, Grade, VO2, VO2, VCO2, RER, RR, Vt BTPS, VE BTPS,
BR, PETO2, PETCO2, HR, HRR; optionally a units line ((min), (MPH), (%), (mL/kg/min),
(mL/min), ...). Times are m:ss (or hh:mm:ss). The two VO2 columns are relative (mL/kg/min)
then absolute (mL/min): decided by the units line, else by their values. RR is respiratory
rate (br/min) here, BR is breathing reserve (%), HRR heart-rate reserve. Speed is mph on
US carts; converted to km/h.
"""
from __future__ import annotations


from . import tables as T
from .assemble import finish
from .model import FormatError, Limits, ParsedExport

FORMAT_ID = "medgraphics"

# Normalized label names only MedGraphics uses together ('Vt BTPS' normalizes to plain 'vt').
_MARKERS = {T.norm_name(s) for s in ("Ex Time", "BR", "HRR", "RER", "RR", "HeartRate")}


def sniff(table: T.Table) -> float:
    cmap = T.find_header(table, max_scan=10)
    if cmap is None:
        return 0.0
    raw = [c for c in table[cmap.header_row] if isinstance(c, str)]
    names = [T.norm_name(c) for c in raw]
    btps = sum(1 for c in raw if "btps" in c.lower())
    vo2s = sum(1 for n in names if n == "vo2")
    score = 0.0
    if btps:
        score += 0.4
    if vo2s >= 2:
        score += 0.3
    score += min(0.3, 0.1 * len(set(names) & _MARKERS))
    if "rr" in names and "br" in names:
        score += 0.1
    return min(score, 0.92)


def read(table: T.Table, limits: Limits, *, container: str) -> ParsedExport:
    cmap = T.find_header(table, max_scan=10)
    if cmap is None:
        raise FormatError("no-header", "MedGraphics export: no label row with a Time column was found")
    ex = T.extract(table, cmap, from_workbook=(container == "xlsx"), speed_default="mph", rr_is_rf=True)
    warnings = ex.notes
    meta = {
        "device": "MedGraphics",
        "format_detail": f"MedGraphics breath-by-breath {container.upper()} export"
        + (" with units line" if cmap.units_row is not None else ""),
    }
    T.estimate_body_mass(ex, meta, warnings)
    return finish(FORMAT_ID, meta, ex.samples, warnings, limits, ex.rows)
