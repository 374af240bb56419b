"""Tables (rows of cells from text or spreadsheets): find the header row, map column labels
in the lab's languages onto the normalized columns, read units, extract numeric samples.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from . import units as U
from .notices import note

Cell = Any
Table = list[list[Cell]]

# Targets beyond the 12 normalized columns that readers must recognise in order NOT to confuse
# them: relative VO2 (mL/kg/min) and mixed-expired partial pressures (PeO2/PeCO2).
EXTRA_TARGETS = ("vo2_rel", "peo2_mixed", "peco2_mixed", "rr_ambiguous")

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "time_s": (
        "t", "time", "zeit", "tid", "temps", "время", "tiempo", "tempo", "sec", "seconds",
        "time_s", "time(s)", "times", "elapsed time", "test time", "testzeit", "tijd", "aika",
        "czas", "время теста",
    ),
    "vo2_ml_min": (
        "vo2", "v'o2", "vo2abs", "vo2 abs", "vo2_abs", "vo2absolute", "vo2_i", "по2", "vo2 ml/min",
        "потребление o2", "потребление кислорода", "sauerstoffaufnahme", "oxygen uptake",
        "consommation o2", "consommation d'oxygène", "opptak o2", "vo2 (abs)",
    ),
    "vo2_rel": (
        "vo2/kg", "v'o2/kg", "vo2kg", "vo2 rel", "vo2_rel", "vo2rel", "vo2/kg_i", "rvo2",
        "vo2 relative", "vo2/wt", "vo2 (rel)", "по2/кг", "relative vo2", "v'o2/kg_lean",
    ),
    "vco2_ml_min": (
        "vco2", "v'co2", "vco2abs", "vco2_abs", "vco2_i", "всо2", "vсо2", "выделение co2",
        "co2 output", "kohlendioxidabgabe", "production co2", "vco2 (abs)",
    ),
    "ve_l_min": (
        "ve", "v'e", "ve_i", "vebtps", "minute ventilation", "ventilation", "вентиляция", "мод",
        "лв", "atemminutenvolumen", "amv", "ventilasjon", "débit ventilatoire", "ve/min",
    ),
    "hr_bpm": (
        "hr", "hf", "heart rate", "heartrate", "herzfrequenz", "чсс", "fc", "puls", "pulse",
        "hr_i", "pulsfrekvens", "fréquence cardiaque", "frequence cardiaque", "heart_rate",
    ),
    "rf_bpm": (
        "rf", "af", "bf", "rf_i", "respiratory rate", "breathing frequency", "atemfrequenz",
        "чд", "частота дыхания", "fr", "fréquence respiratoire", "resp rate",
        "pustefrekvens", "respirasjonsfrekvens", "bf (1/min)",
    ),
    "rr_ambiguous": ("rr",),
    "vt_l": (
        "vt", "vtex", "vte", "vt_i", "tidal volume", "atemzugvolumen", "azv", "до",
        "дыхательный объем", "дыхательный объём", "tidevolum", "volume courant",
    ),
    "peto2_mmhg": ("peto2", "pet o2", "peto2_i", "peto2 (mmhg)", "po2et", "pet_o2", "petо2"),
    "petco2_mmhg": ("petco2", "pet co2", "petco2_i", "pco2et", "pet_co2", "etco2", "petсо2"),
    "peo2_mixed": ("peo2", "pe o2"),
    "peco2_mixed": ("peco2", "pe co2"),
    "power_w": (
        "power", "load", "last", "leistung", "watt", "watts", "w", "p", "мощность", "нагрузка",
        "puissance", "charge", "effekt", "belastning", "work rate", "workrate", "wr", "load1",
        "belastung", "arbeitslast", "power_w", "ergometer load",
    ),
    "speed_kmh": (
        "speed", "geschw", "geschwindigkeit", "velocity", "v", "vitesse", "скорость", "hastighet",
        "fart", "velocidad", "velocità", "treadmill speed", "band speed", "bandgeschwindigkeit",
        "speed_kmh", "speed kmh",
    ),
    "grade_pct": (
        "grade", "incline", "steig", "steigung", "gradient", "pente", "наклон", "stigning",
        "inclinaison", "elevation", "grade_pct", "угол наклона",
    ),
}

# Single letters are too ambiguous without a confirming unit.
_NEEDS_UNIT = {"p": {"w"}, "v": {"km_h", "m_s", "mph", "km_h_x10"}}

_NUMERIC_START = re.compile(r"^[-+]?\.?\d")

_CYRILLIC_LOOKALIKE = str.maketrans({"о": "o", "О": "o", "с": "c", "С": "c", "е": "e", "Е": "e"})


@lru_cache(maxsize=8192)
def norm_name(text: str) -> str:
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    s = s.replace("’", "'").replace("`", "'").replace("´", "'").replace("‘", "'")
    s = re.sub(r"(\.\.\.\d+|\.\d+)$", "", s)  # R de-duplication suffixes: VO2...4, vo2.1
    s = re.sub(r"\(?\b(btps|stpd|atps|est)\b\)?", "", s)
    s = re.sub(r"[\s'._\-]+", "", s)
    return s.translate(_CYRILLIC_LOOKALIKE)


_NAME_INDEX: dict[str, str] = {}
for _target, _names in _SYNONYMS.items():
    for _name in _names:
        _NAME_INDEX.setdefault(norm_name(_name), _target)


@dataclass
class Column:
    index: int
    label: str
    unit: str | None


@dataclass
class ColumnMap:
    header_row: int
    units_row: int | None
    data_start: int
    candidates: dict[str, list[Column]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def first(self, target: str) -> Column | None:
        cols = self.candidates.get(target)
        return cols[0] if cols else None

    @property
    def targets(self) -> set[str]:
        return {k for k, v in self.candidates.items() if v}


@lru_cache(maxsize=8192)
def classify_label(label: str, unit_hint: str | None = None) -> tuple[str | None, str | None]:
    """Header label (+ units-row text) -> (target, unit)."""
    name, unit = U.split_label(label)
    if unit is None and unit_hint:
        unit = unit_hint.strip()
        if unit[:1] in "([" and unit[-1:] in ")]":
            unit = unit[1:-1].strip()
        unit = unit or None
    key = norm_name(name)
    target = _NAME_INDEX.get(key)
    if target is None:
        # 'Speed (km/h)'-style units glued to the name: 'speed_kmh', 'VO2ml/min'.
        return None, unit
    kind = U.unit_kind(unit)
    if key in _NEEDS_UNIT and kind not in _NEEDS_UNIT[key]:
        return None, unit
    if target == "vo2_ml_min" and kind == "relative":
        return "vo2_rel", unit
    if target == "power_w":
        if kind in ("km_h", "m_s", "mph", "km_h_x10", "m_min"):
            return "speed_kmh", unit
        if kind in ("energy", "percent", "per_min"):
            return None, unit  # e.g. CORTEX 'W' in kcal is work, not power
    if target == "speed_kmh" and kind == "w":
        return "power_w", unit
    if target == "hr_bpm" and kind not in (None, "per_min", "other"):
        return None, unit
    return target, unit


def _row_targets(row: list[Cell], unit_row: list[Cell] | None = None) -> dict[str, list[Column]]:
    found: dict[str, list[Column]] = {}
    for i, cell in enumerate(row):
        if not isinstance(cell, str):
            continue
        text = cell.strip()
        if not text or len(text) > 60 or _NUMERIC_START.match(text):
            continue
        hint = None
        if unit_row is not None and i < len(unit_row) and isinstance(unit_row[i], str):
            hint = unit_row[i] or None
        target, unit = classify_label(text, hint)
        if target:
            found.setdefault(target, []).append(Column(i, text, unit))
    return found


def _is_units_row(row: list[Cell], columns: list[int]) -> bool:
    unitish = numeric = 0
    for i in columns:
        cell = row[i] if i < len(row) else None
        if isinstance(cell, str):
            t = cell.strip()
            if not t:
                continue
            if U.looks_like_unit(t) or t in ("---", "--") or U.unit_kind(t) == "clock":
                unitish += 1
            elif U.to_float(t) == U.to_float(t) or ":" in t:
                numeric += 1
        elif cell is not None and not (isinstance(cell, float) and cell != cell):
            numeric += 1
    return unitish >= 2 and numeric == 0


def find_header(table: Table, max_scan: int = 400) -> ColumnMap | None:
    """The header row is the row whose labels map onto the most normalized columns
    (at least time plus one gas/load column)."""
    best: tuple[int, int] | None = None
    best_found: dict[str, list[Column]] = {}
    limit = min(len(table), max_scan)
    for r in range(limit):
        if best is not None and r > best[1] + 40:
            break  # well into the data: the header is behind us
        row = table[r]
        if not row or not any(isinstance(c, str) and c.strip() for c in row):
            continue
        found = _row_targets(row)
        score = len(found)
        if "time_s" not in found or score < 2:
            continue
        if best is None or score > best[0]:
            best, best_found = (score, r), found
    if best is None:
        return None
    header = best[1]
    columns = [c.index for cols in best_found.values() for c in cols]
    units_row = None
    if header + 1 < len(table) and _is_units_row(table[header + 1], columns):
        units_row = header + 1
        best_found = _row_targets(table[header], table[units_row])
    data_start = (units_row if units_row is not None else header) + 1
    return ColumnMap(header, units_row, data_start, best_found)


def column_cells(table: Table, index: int, start: int, stop: int | None = None) -> list[Cell]:
    rows = table[start:stop]
    return [row[index] if index < len(row) else None for row in rows]


def numeric_column(table: Table, col: Column, start: int, stop: int | None = None) -> np.ndarray:
    return U.column_to_float(column_cells(table, col.index, start, stop))


@dataclass
class Extracted:
    samples: dict[str, np.ndarray]
    rows: np.ndarray  # 1-based source row/line number of each sample
    notes: list[str]
    extras: dict[str, np.ndarray]


def _resolve_vo2(table: Table, cmap: ColumnMap, start: int) -> None:
    """Two unlabelled VO2 columns (MedGraphics: mL/kg/min then mL/min): the one ~body-mass
    times larger is absolute. Decided by values, and reported."""
    cols = cmap.candidates.get("vo2_ml_min", [])
    if len(cols) < 2:
        return
    medians = []
    for c in cols[:2]:
        v = numeric_column(table, c, start)
        v = v[np.isfinite(v) & (v > 0)]
        medians.append(float(np.median(v)) if v.size else 0.0)
    small, large = (0, 1) if medians[0] < medians[1] else (1, 0)
    if medians[small] > 0 and medians[large] / medians[small] > 15:
        rel, ab = cols[small], cols[large]
        cmap.candidates["vo2_ml_min"] = [ab] + cols[2:]
        cmap.candidates.setdefault("vo2_rel", []).insert(0, rel)
        cmap.notes.append(note("vo2_relative_and_absolute", relative_column=rel.index + 1,
                               relative_median=medians[small], absolute_column=ab.index + 1,
                               absolute_median=medians[large]))


def extract(
    table: Table,
    cmap: ColumnMap,
    *,
    from_workbook: bool,
    speed_default: str = "km_h",
    rr_is_rf: bool = False,
    stop: int | None = None,
) -> Extracted:
    start = cmap.data_start
    notes = list(cmap.notes)
    _resolve_vo2(table, cmap, start)
    notes = list(cmap.notes)
    if rr_is_rf and "rf_bpm" not in cmap.targets and cmap.first("rr_ambiguous"):
        cmap.candidates["rf_bpm"] = cmap.candidates["rr_ambiguous"]
    elif cmap.first("rr_ambiguous") and "rf_bpm" not in cmap.targets:
        col = cmap.first("rr_ambiguous")
        if U.unit_kind(col.unit) == "per_min":
            cmap.candidates["rf_bpm"] = [col]
        else:
            notes.append(note("column_ambiguous_rate", column=col.label))

    tcol = cmap.first("time_s")
    assert tcol is not None
    cells = column_cells(table, tcol.index, start, stop)
    time, tnotes = U.parse_time_column(cells, tcol.unit, from_workbook=from_workbook, label=tcol.label)
    notes += tnotes
    samples: dict[str, np.ndarray] = {"time_s": time}
    extras: dict[str, np.ndarray] = {}

    def values(target: str) -> tuple[np.ndarray, Column] | None:
        col = cmap.first(target)
        if col is None:
            return None
        return numeric_column(table, col, start, stop), col

    for target in ("vo2_ml_min", "vco2_ml_min"):
        got = values(target)
        if got:
            v, col = got
            samples[target], n = U.gas_flow_to_ml_min(v, col.unit, col.label)
            notes += n
    got = values("ve_l_min")
    if got:
        samples["ve_l_min"], n = U.ventilation_to_l_min(got[0], got[1].unit, got[1].label)
        notes += n
    got = values("vt_l")
    if got:
        samples["vt_l"], n = U.tidal_volume_to_l(got[0], got[1].unit, got[1].label)
        notes += n
    for target in ("hr_bpm", "rf_bpm", "grade_pct"):
        got = values(target)
        if got:
            samples[target] = got[0]
    for target in ("peto2_mmhg", "petco2_mmhg"):
        got = values(target)
        if got:
            converted, n = U.pressure_to_mmhg(got[0], got[1].unit, got[1].label)
            notes += n
            if converted is not None:
                samples[target] = converted
    got = values("power_w")
    if got:
        samples["power_w"] = got[0]
    got = values("speed_kmh")
    if got:
        samples["speed_kmh"], n = U.speed_to_kmh(got[0], got[1].unit, got[1].label, speed_default)
        notes += n
    for target in ("vo2_rel", "peo2_mixed", "peco2_mixed"):
        got = values(target)
        if got:
            extras[target] = got[0]
    if "peto2_mmhg" not in samples and "peo2_mixed" in extras:
        notes.append(note("mixed_expired_pressures"))
    rows = np.arange(start + 1, start + 1 + time.shape[0], dtype=np.int64)
    return Extracted(samples, rows, notes, extras)


def key_values(table: Table, max_rows: int, max_cols: int = 12) -> list[tuple[str, Cell]]:
    """Label/value pairs from a metadata block: a text cell followed by a non-empty cell."""
    pairs: list[tuple[str, Cell]] = []
    for row in table[:max_rows]:
        row = row[:max_cols]
        for i, cell in enumerate(row):
            if not isinstance(cell, str) or not cell.strip():
                continue
            for j in (i + 1, i + 2):
                if j < len(row) and row[j] not in (None, ""):
                    pairs.append((norm_name(cell.rstrip(":").strip()), row[j]))
                    break
    return pairs


def lookup(pairs: list[tuple[str, Cell]], *names: str) -> Cell:
    wanted = {norm_name(n) for n in names}
    for key, value in pairs:
        if key in wanted:
            return value
    return None


def estimate_body_mass(ex: Extracted, meta: dict, warnings: list[str]) -> None:
    """Exports that carry absolute and relative VO2 but no body mass: mass = median(VO2 / VO2 per kg).

    Fills `meta["body_mass_kg"]` (with a warning saying it was estimated) only when the export gave none."""
    if meta.get("body_mass_kg") is not None or "vo2_rel" not in ex.extras or "vo2_ml_min" not in ex.samples:
        return
    absolute, relative = ex.samples["vo2_ml_min"], ex.extras["vo2_rel"]
    ok = np.isfinite(absolute) & np.isfinite(relative) & (relative > 1)
    if ok.sum() < 2:
        return
    mass = round(float(np.median(absolute[ok] / relative[ok])), 1)
    if 20 <= mass <= 300:
        meta["body_mass_kg"] = mass
        warnings.append(note("body_mass_estimated", body_mass_kg=mass))
