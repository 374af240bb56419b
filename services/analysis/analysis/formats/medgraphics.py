"""MedGraphics (Breeze) breath-by-breath exports and their CSV/XLSX copies.

Header: Time, Ex Time, Time (Clock), Speed, Grade, VO2, VO2, VCO2, RER, RR, Vt BTPS, VE BTPS,
BR, PETO2, PETCO2, HR, HRR; optionally a units line ((min), (MPH), (%), (mL/kg/min),
(mL/min), ...). Times are m:ss (or hh:mm:ss). The two VO2 columns are relative (mL/kg/min)
then absolute (mL/min): decided by the units line, else by their values. RR is respiratory
rate (br/min) here, BR is breathing reserve (%), HRR heart-rate reserve. Speed is mph on
US carts; converted to km/h.

Time: "Time" runs from the start of the recording, "Ex Time" from the start of exercise (blank
before it). The exercise clock is the one a lab reads thresholds on, so time_s is Ex Time, and
the pre-exercise rows keep their place with negative times (Time minus the offset of the two).
"""
from __future__ import annotations


import numpy as np

from . import tables as T
from . import units as U
from .notices import note
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
    offset = _exercise_clock(table, cmap, ex, container, warnings)
    meta = {
        "device": "MedGraphics",
        "format_detail": f"MedGraphics breath-by-breath {container.upper()} export"
        + (" with units line" if cmap.units_row is not None else ""),
    }
    if offset is not None:
        meta["exercise_start_s"] = offset  # on the recording clock ("Time")
        meta["format_detail"] += "; time on the exercise clock (Ex Time)"
    T.estimate_body_mass(ex, meta, warnings)
    return finish(FORMAT_ID, meta, ex.samples, warnings, limits, ex.rows)


_EX_TIME = T.norm_name("Ex Time")


def _exercise_clock(table: T.Table, cmap: T.ColumnMap, ex: T.Extracted, container: str,
                    warnings: list[str]) -> float | None:
    """Put time_s on the exercise clock when the export has an Ex Time column; returns the offset."""
    header = table[cmap.header_row]
    index = next((i for i, c in enumerate(header) if isinstance(c, str) and T.norm_name(c) == _EX_TIME), None)
    time_col = cmap.first("time_s")
    if index is None or time_col is None or index == time_col.index:
        return None
    unit = None
    if cmap.units_row is not None and index < len(table[cmap.units_row]):
        unit = table[cmap.units_row][index] if isinstance(table[cmap.units_row][index], str) else None
    cells = T.column_cells(table, index, cmap.data_start)
    ex_time, _ = U.parse_time_column(cells, unit, from_workbook=(container == "xlsx"), label="Ex Time")
    time = ex.samples["time_s"]
    both = np.isfinite(ex_time) & np.isfinite(time)
    if both.sum() < 3:
        return None
    offset = float(np.median(time[both] - ex_time[both]))
    ex.samples["time_s"] = time - offset
    before = int((np.isfinite(time) & ~np.isfinite(ex_time) & (time < time[both][0])).sum())
    warnings.append(note("exercise_clock", offset=offset, before=before))
    return offset
