"""Units: read them from the export, convert to the lab's units, never assume silently.

Every guess (no unit in the header, decided by magnitude) leaves a line in ``warnings``.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any, Iterable

import numpy as np

from .notices import note

NAN = float("nan")

_MISSING = {"", "-", "--", "---", "nan", "na", "n/a", "null", "none", "#n/a", "--:--:--", "."}


def to_float(cell: Any) -> float:
    """One cell -> float; decimal commas accepted; blanks and dashes are NaN."""
    if cell is None:
        return NAN
    if isinstance(cell, bool):
        return float(cell)
    if isinstance(cell, (int, float)):
        return float(cell)
    if isinstance(cell, str):
        s = cell.strip()
        try:
            return float(s)
        except ValueError:
            pass
        if s.lower() in _MISSING:
            return NAN
        s2 = s.replace("\u2212", "-").replace(" ", "").replace("\u00a0", "")
        if s2.count(",") == 1 and "." not in s2:
            s2 = s2.replace(",", ".")
        try:
            return float(s2)
        except ValueError:
            return NAN
    if isinstance(cell, (np.floating, np.integer)):
        return float(cell)
    return NAN


def column_to_float(cells: list[Any]) -> np.ndarray:
    # Fast path: numpy parses a list of plain numbers/strings in C.
    try:
        arr = np.array(cells, dtype=np.float64)
        return arr
    except (ValueError, TypeError):
        return np.array([to_float(c) for c in cells], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Time


_CLOCK = re.compile(r"^\s*(-)?\s*(\d{1,3}):(\d{1,2})(?::(\d{1,2}))?(?:[.,](\d+))?\s*$")


def clock_to_seconds(text: str) -> float:
    """'m:ss', 'mm:ss', 'h:mm:ss', 'hh:mm:ss,z' / '.z' -> seconds (NaN if not a clock)."""
    m = _CLOCK.match(text)
    if not m:
        return NAN
    sign, a, b, c, frac = m.groups()
    if c is None:  # two parts: minutes:seconds (carts never write h:mm for test time)
        seconds = int(a) * 60 + int(b)
    else:
        seconds = int(a) * 3600 + int(b) * 60 + int(c)
    if frac:
        seconds += float("0." + frac)
    return -seconds if sign else float(seconds)


def _cell_time(cell: Any) -> tuple[float, str]:
    """One time cell -> (seconds, kind) with kind in clock/number/datetime/missing."""
    if cell is None:
        return NAN, "missing"
    if isinstance(cell, dt.datetime):
        return cell.hour * 3600 + cell.minute * 60 + cell.second + cell.microsecond / 1e6, "datetime"
    if isinstance(cell, dt.time):
        return cell.hour * 3600 + cell.minute * 60 + cell.second + cell.microsecond / 1e6, "clock"
    if isinstance(cell, dt.timedelta):
        return cell.total_seconds(), "clock"
    if isinstance(cell, dt.date):
        return NAN, "missing"
    if isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, bool):
        return float(cell), "number"
    if isinstance(cell, str):
        s = cell.strip()
        if not s:
            return NAN, "missing"
        if ":" in s:
            return clock_to_seconds(s), "clock"
        value = to_float(s)
        return value, ("missing" if value != value else "number")
    return NAN, "missing"


def parse_time_column(
    cells: list[Any], unit: str | None, *, from_workbook: bool, label: str = "time"
) -> tuple[np.ndarray, list[str]]:
    """Time cells -> seconds. Clock strings, Excel times/day fractions, s, ms, min.

    Returns (seconds, warnings). Numbers without a unit are judged by magnitude and the
    judgement is reported.
    """
    notes: list[str] = []
    out = np.empty(len(cells), dtype=np.float64)
    kinds: set[str] = set()
    datetimes = False
    for i, cell in enumerate(cells):
        value, kind = _cell_time(cell)
        out[i] = value
        kinds.add(kind)
        if kind == "datetime":
            datetimes = True
    numeric = "number" in kinds and "clock" not in kinds and not datetimes
    if datetimes:
        # Wall-clock datetimes: add a day whenever the clock wraps past midnight.
        wraps = np.concatenate([[0.0], np.cumsum(np.diff(out) < -43200) * 86400.0])
        out = out + wraps
        notes.append(note("time_wall_clock", label=label))
    if not numeric:
        return out, notes
    u = normalize_unit(unit or "")
    finite = out[np.isfinite(out)]
    if finite.size == 0:
        return out, notes
    if u in ("ms", "msec"):
        return out / 1000.0, notes
    if u in ("min", "mins"):
        notes.append(note("time_minutes", label=label))
        return out * 60.0, notes
    if u in ("h", "hr", "hours"):
        return out * 3600.0, notes
    if u in ("s", "sec", "secs", "seconds"):
        return out, notes
    if u in ("d", "day", "days") or (u in CLOCK_UNITS and from_workbook and finite.max() < 2.0):
        return out * 86400.0, notes
    # No usable unit: decide by magnitude and say so.
    if from_workbook and finite.min() >= 0 and finite.max() < 1.0 and finite.size > 2:
        notes.append(note("time_day_fractions", label=label))
        return out * 86400.0, notes
    steps = np.diff(finite)
    median_step = float(np.median(steps)) if steps.size else 0.0
    if finite.max() > 4 * 3600 and median_step >= 100:
        notes.append(note("time_milliseconds", label=label, max=float(finite.max()), step=median_step))
        return out / 1000.0, notes
    if u and u not in CLOCK_UNITS:
        notes.append(note("time_unit_unknown", label=label, unit=unit))
    return out, notes


CLOCK_UNITS = {
    "hh:mm:ss", "h:mm:ss", "mm:ss", "m:ss", "hh:mm:ss.z", "hh:mm:ss,z", "h:mm:ss.z",
    "mm:ss.z", "clock", "hh:mm", "time",
}


# --------------------------------------------------------------------------------------------
# Unit text


_RU_UNITS = (
    ("мм рт. ст.", "mmhg"), ("мм рт.ст.", "mmhg"), ("мм рт ст", "mmhg"), ("ммртст", "mmhg"),
    ("уд/мин", "bpm"), ("уд./мин", "bpm"), ("км/ч", "km/h"), ("м/с", "m/s"), ("мл", "ml"),
    ("мин", "min"), ("кг", "kg"), ("вт", "w"), ("кпа", "kpa"), ("л", "l"), ("с", "s"), ("ч", "h"),
)


def normalize_unit(unit: str) -> str:
    u = unicodedata.normalize("NFKC", unit or "").strip().lower()
    u = re.sub(r"[(\[]\s*(btps|stpd|atps)\s*[)\]]", "", u)
    while len(u) >= 2 and u[0] in "([{" and u[-1] in ")]}":
        u = u[1:-1].strip()
    u = u.strip(" ,;")
    for ru, en in _RU_UNITS:
        u = u.replace(ru, en)
    u = u.replace("·", "/").replace("⋅", "/").replace("−", "-").replace(" ", "")
    u = re.sub(r"\((btps|stpd|atps)\)", "", u)
    return u


def unit_kind(unit: str | None) -> str | None:
    """Classify a header unit into what it measures (None when unknown/absent)."""
    if not unit:
        return None
    u = normalize_unit(unit)
    if not u:
        return None
    if "kg" in u and ("ml" in u or "l/" in u or "/min" in u):
        return "relative"
    if u in ("ml/min", "mlmin", "ml/mn", "ml·min-1", "mlmin-1", "ml/min-1", "ml*min-1"):
        return "ml_min"
    if u in ("l/min", "lmin", "l/mn", "lmin-1", "l/min-1", "l*min-1", "l/min(btps)", "l(btps)/min"):
        return "l_min"
    if u in ("ml",):
        return "ml"
    if u in ("l", "l(btps)", "liter", "litre", "l(atps)"):
        return "l"
    if u in ("km/h", "kmh", "kph", "km/t", "km/std", "km/hr"):
        return "km_h"
    if u in ("kmh*10", "km/h*10", "kmh×10"):
        return "km_h_x10"
    if u in ("m/s", "ms-1", "m/sec"):
        return "m_s"
    if u in ("m/min", "m/h"):
        return "m_min" if u == "m/min" else "m_h"
    if u in ("mph", "mi/h", "miles/h"):
        return "mph"
    if u in ("w", "watt", "watts"):
        return "w"
    if u in ("kcal", "kj", "j", "kcal/h", "kcal/min", "kcal/d", "kcal/day"):
        return "energy"
    if u in ("mmhg", "torr"):
        return "mmhg"
    if u in ("kpa",):
        return "kpa"
    if u in ("%", "vol%", "pct", "percent", "%grade"):
        return "percent"
    if u in ("bpm", "1/min", "/min", "b/min", "br/min", "min-1", "breaths/min", "beats/min",
             "bpm)", "1/мин", "/мин", "b/m", "br/m", "rpm", "a/min", "bf/min", "br./min"):
        return "per_min"
    if u in ("s", "sec", "secs", "seconds", "sek"):
        return "s"
    if u in ("ms", "msec"):
        return "ms"
    if u in ("min",):
        return "min"
    if u in CLOCK_UNITS or u.replace(",", ".") in CLOCK_UNITS:
        return "clock"
    return "other"


_UNIT_TOKEN = re.compile(
    r"^(ml/min|l/min|ml/kg/min|ml/min/kg|\(ml/min\)/kg|ml|l|km/h|kmh|kph|m/s|mph|w|watt|watts|bpm|"
    r"1/min|/min|b/min|br/min|s|sec|ms|min|mmhg|kpa|%|kcal|kj|мл/мин|л/мин|мл/кг/мин|км/ч|м/с|вт|"
    r"уд/мин|мм рт\.? ?ст\.?|с|мин|kmh\*10|l\(btps\)|ml/kg|ml/min/w)$",
    re.IGNORECASE,
)


def looks_like_unit(text: str) -> bool:
    t = (text or "").strip().strip("()[]").strip()
    if not t:
        return False
    if _UNIT_TOKEN.match(t):
        return True
    return unit_kind(t) not in (None, "other")


def split_label(raw: str) -> tuple[str, str | None]:
    """Header text -> (name, unit). 'VO2 (mL/min)', 'Speed [km/h]', 'ЧСС, уд/мин', 'VO2 мл/мин'."""
    s = unicodedata.normalize("NFKC", str(raw)).strip()
    unit = None
    # Bracketed unit at the end; qualifiers like (STPD)/(BTPS) stay part of the name.
    while True:
        m = re.search(r"[\(\[]([^()\[\]]*)[\)\]]\s*$", s)
        if not m:
            break
        inner = m.group(1).strip()
        if unit is None and looks_like_unit(inner):
            unit = inner
            s = s[: m.start()].rstrip()
            continue
        break
    if unit is None:
        m = re.match(r"^(.*?)(?:,\s*|\s+)([^\s,]+)$", s)
        if m and looks_like_unit(m.group(2)) and m.group(1).strip():
            s, unit = m.group(1).strip(), m.group(2)
    return s, unit


# --------------------------------------------------------------------------------------------
# Conversions to the lab's units


def gas_flow_to_ml_min(values: np.ndarray, unit: str | None, label: str) -> tuple[np.ndarray, list[str]]:
    """VO2/VCO2 -> mL/min. By header unit, else by magnitude (L/min peaks are < 10)."""
    kind = unit_kind(unit)
    finite = values[np.isfinite(values)]
    peak = float(np.nanpercentile(finite, 99)) if finite.size else None
    if kind in ("ml_min", "l_min") and peak is not None and peak > 0:
        # a header's unit that the values contradict: a person's VO2 peaks at 0.2-8 L/min, 200-8,000 mL/min
        said = "mL/min" if kind == "ml_min" else "L/min"
        if kind == "ml_min" and peak < 10.0:
            return values * 1000.0, [note("gas_header_ml_is_l", label=label, max=float(finite.max()))]
        if kind == "l_min" and peak >= 100.0:
            return values, [note("gas_header_l_is_ml", label=label, max=float(finite.max()))]
        if 10.0 <= peak < 100.0:
            from .model import FormatError

            raise FormatError("ambiguous-units", f"{label}: the header says {said} but values up to "
                                                 f"{finite.max():.4g} fit neither L/min nor mL/min for a person's "
                                                 "gas exchange; check the column's unit")
    if kind == "ml_min":
        return values, []
    if kind == "l_min":
        return values * 1000.0, []
    if finite.size == 0:
        return values, []
    if peak < 10.0:
        return values * 1000.0, [note("gas_no_unit_l", label=label, max=float(finite.max()))]
    return values, [note("gas_no_unit_ml", label=label, max=float(finite.max()))]


def ventilation_to_l_min(values: np.ndarray, unit: str | None, label: str) -> tuple[np.ndarray, list[str]]:
    kind = unit_kind(unit)
    if kind == "ml_min":
        return values / 1000.0, []
    if kind == "l_min" or kind is None and _peak(values) < 400:
        return values, []
    if kind is None:
        return values / 1000.0, [note("ventilation_no_unit_ml", label=label)]
    return values, [note("ventilation_unit_unknown", label=label, unit=unit)]


def tidal_volume_to_l(values: np.ndarray, unit: str | None, label: str) -> tuple[np.ndarray, list[str]]:
    kind = unit_kind(unit)
    if kind == "ml":
        return values / 1000.0, []
    if kind == "l" or kind is None and _peak(values) < 15:
        return values, []
    if kind is None:
        return values / 1000.0, [note("tidal_volume_no_unit_ml", label=label)]
    return values, [note("tidal_volume_unit_unknown", label=label, unit=unit)]


def speed_to_kmh(
    values: np.ndarray, unit: str | None, label: str, default: str = "km_h"
) -> tuple[np.ndarray, list[str]]:
    kind = unit_kind(unit)
    notes: list[str] = []
    if kind is None or kind == "other":
        kind = default
        names = {"km_h": "km/h", "mph": "mph", "m_s": "m/s"}
        notes.append(note("speed_no_unit", label=label, read_as=names.get(default, default)))
    factor = {"km_h": 1.0, "km_h_x10": 0.1, "m_s": 3.6, "mph": 1.609344, "m_min": 0.06,
              "m_h": 0.001}.get(kind)
    if factor is None:
        return values, notes + [note("speed_unit_unknown", label=label, unit=unit)]
    return values * factor, notes


def pressure_to_mmhg(values: np.ndarray, unit: str | None, label: str) -> tuple[np.ndarray | None, list[str]]:
    kind = unit_kind(unit)
    if kind == "kpa" or kind is None and 0 < _peak(values) < 25:
        notes = [] if kind == "kpa" else [note("pressure_no_unit_kpa", label=label)]
        return values * 7.500617, notes
    if kind == "percent":
        return None, [note("pressure_percent", label=label)]
    return values, []


def _peak(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else 0.0


# --------------------------------------------------------------------------------------------
# Plausibility: warn, never correct silently.

PLAUSIBLE: dict[str, tuple[float | None, float | None, str]] = {
    # column: (min, max, unit)
    "vo2_ml_min": (0.0, 8000.0, "mL/min"),
    "vco2_ml_min": (0.0, 9000.0, "mL/min"),
    "ve_l_min": (0.0, 300.0, "L/min"),
    "hr_bpm": (0.0, 250.0, "bpm"),
    "rf_bpm": (0.0, 120.0, "/min"),
    "vt_l": (0.0, 7.0, "L"),
    "peto2_mmhg": (0.0, 160.0, "mmHg"),
    "petco2_mmhg": (0.0, 90.0, "mmHg"),
    "power_w": (0.0, 2500.0, "W"),
    "speed_kmh": (0.0, 45.0, "km/h"),
    "grade_pct": (-30.0, 45.0, "%"),
}


def plausibility_warnings(samples: dict[str, np.ndarray]) -> list[str]:
    notes = []
    for name, (lo, hi, unit) in PLAUSIBLE.items():
        values = samples.get(name)
        if values is None:
            continue
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            continue
        if hi is not None and finite.max() > hi:
            n = int((finite > hi).sum())
            notes.append(note("values_above_range", column=name, max=float(finite.max()), unit=unit, limit=hi,
                              count=n, total=int(finite.size)))
        if lo is not None and finite.min() < lo:
            n = int((finite < lo).sum())
            if lo == 0:
                notes.append(note("values_negative", column=name, min=float(finite.min()), count=n,
                                  total=int(finite.size)))
            else:
                notes.append(note("values_below_range", column=name, limit=lo, unit=unit, min=float(finite.min()),
                                  count=n, total=int(finite.size)))
    return notes


def iso_date(day: int, month: int, year: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_date(value: Any, *, day_first: bool = True) -> str | None:
    """'11.11.1980', '19.04.2019 02:49', '2019-04-19', 13011987 (ddmmyyyy), datetime -> ISO date."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value:
            return None
        n = int(value)
        if 1_000_000 <= n <= 99_999_999 and n == value:
            s = f"{n:08d}"
            a, b, year = int(s[:2]), int(s[2:4]), int(s[4:])
            if 1900 <= year <= 2100:
                if day_first or a > 12:
                    return iso_date(a, b, year)
                return iso_date(b, a, year)
        if 1 < value < 80000:  # Excel serial day number
            return (dt.date(1899, 12, 30) + dt.timedelta(days=int(value))).isoformat()
        return None
    s = str(value).strip()
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})", s)
    if m:
        return iso_date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    m = re.match(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2,4})", s)
    if m:
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            year += 2000 if year < 50 else 1900
        if day_first or a > 12:
            return iso_date(a, b, year)
        return iso_date(b, a, year)
    return None


def parse_sex(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip().lower()
    if not s:
        return None
    if s in ("m", "male", "man", "mann", "männlich", "maennlich", "mannlich", "masculin", "homme",
             "h", "мужской", "муж", "м", "mann/male", "hankjønn", "mannlig", "1m"):
        return "male"
    if "nnlich" in s or s.startswith("male") or s.startswith("муж"):
        return "male"
    if s in ("f", "w", "female", "woman", "frau", "weiblich", "féminin", "feminin", "femme",
             "женский", "жен", "ж", "k", "kvinne", "kvinnelig", "hunkjønn"):
        return "female"
    if s.startswith("female") or s.startswith("weib") or s.startswith("жен"):
        return "female"
    return None


def first_number(value: Any) -> float:
    """'74,8kg' -> 74.8, '178 cm' -> 178.0, 66 -> 66.0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if value is None:
        return NAN
    m = re.search(r"-?\d+(?:[.,]\d+)?", str(value))
    return float(m.group(0).replace(",", ".")) if m else NAN


def finite_or_none(value: float, lo: float, hi: float) -> float | None:
    if value is None or value != value or not (lo <= value <= hi):
        return None
    return float(value)


def all_missing(values: Iterable[float]) -> bool:
    arr = np.asarray(values, dtype=float)
    return not np.isfinite(arr).any()
