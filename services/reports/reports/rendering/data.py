"""What a report is made from (`ReportData`), and the preparation of sample series for the eye.

Everything is plain Python (no numpy, no Django): the service builds `ReportData` from measurements' JSON,
tests and the benchmark build it from the analysis engine's output. Every part but the athlete's name may be
missing; the renderer prints what exists.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .i18n import finite

MAX_POINTS = 600          # per plotted line: more than the eye resolves at chart size
SMOOTH_SECONDS = 15.0     # display smoothing of breath-by-breath data (the numbers use the engine's strategy)
SAMPLE_COLUMNS = ("time_s", "vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "rf_bpm", "vt_l", "peto2_mmhg",
                  "petco2_mmhg", "power_w", "speed_kmh", "grade_pct")


def _to_date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return None


@dataclass
class AthleteInfo:
    name: str = ""
    sex: str | None = None                 # "male" | "female"
    birth_date: dt.date | None = None
    age_years: float | None = None         # used when birth_date is unknown
    body_mass_kg: float | None = None
    height_cm: float | None = None
    sport: str | None = None

    def age_on(self, day: dt.date | None) -> float | None:
        if self.birth_date and day:
            years = day.year - self.birth_date.year - ((day.month, day.day) < (self.birth_date.month,
                                                                                  self.birth_date.day))
            return float(years)
        return finite(self.age_years)

    @classmethod
    def from_dict(cls, d: dict | None) -> "AthleteInfo":
        d = d or {}
        name = d.get("name") or " ".join(p for p in (d.get("first_name"), d.get("last_name")) if p)
        return cls(name=str(name or ""), sex=d.get("sex") or None, birth_date=_to_date(d.get("birth_date")),
                   age_years=finite(d.get("age_years", d.get("age"))), body_mass_kg=finite(d.get("body_mass_kg")),
                   height_cm=finite(d.get("height_cm")), sport=d.get("sport") or None)


@dataclass
class TestInfo:
    __test__ = False  # not a pytest class
    date: dt.date | None = None
    modality: str | None = None            # treadmill | cycle | rowing | arm | field | other | free text
    protocol: str | None = None            # the lab's own description; the detected protocol comes from the result
    device: str | None = None
    environment: dict = field(default_factory=dict)   # temperature_c, pressure_hpa | pressure_mmhg, humidity_pct
    lab: str | None = None
    operator: str | None = None
    test_id: str | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> "TestInfo":
        d = d or {}
        env = d.get("environment") if isinstance(d.get("environment"), dict) else {}
        for key in ("temperature_c", "pressure_hpa", "pressure_mmhg", "humidity_pct"):
            if key in d and key not in env:
                env[key] = d[key]
        return cls(date=_to_date(d.get("date") or d.get("test_date") or d.get("performed_at")),
                   modality=d.get("modality") or None, protocol=d.get("protocol") or d.get("protocol_name") or None,
                   device=d.get("device") or None, environment=env, lab=d.get("lab") or None,
                   operator=d.get("operator") or None, test_id=str(d["id"]) if d.get("id") else None)


@dataclass
class PreviousTest:
    """The summary of an earlier test of the same athlete, for the comparison table."""
    date: dt.date | None = None
    vo2max_ml_kg_min: float | None = None
    vo2max_ml_min: float | None = None
    body_mass_kg: float | None = None
    vt1_hr_bpm: float | None = None
    vt2_hr_bpm: float | None = None
    vt1_power_w: float | None = None
    vt2_power_w: float | None = None
    vt1_speed_kmh: float | None = None
    vt2_speed_kmh: float | None = None
    peak_power_w: float | None = None
    peak_speed_kmh: float | None = None
    hr_max_bpm: float | None = None

    @classmethod
    def from_result(cls, date, result: dict | None, body_mass_kg=None) -> "PreviousTest":
        s = summarize(result)
        return cls(date=_to_date(date), body_mass_kg=finite(body_mass_kg), **s)

    @classmethod
    def from_dict(cls, d: dict | None) -> "PreviousTest | None":
        if not d:
            return None
        if isinstance(d.get("result"), dict):
            return cls.from_result(d.get("date"), d["result"], d.get("body_mass_kg"))
        known = {k: finite(v) for k, v in d.items() if k in cls.__dataclass_fields__ and k != "date"}
        return cls(date=_to_date(d.get("date")), **known)


def summarize(result: dict | None) -> dict:
    """The comparable numbers of one analysis result."""
    r = result if isinstance(result, dict) else {}
    vo2max = r.get("vo2max") or {}
    peak = r.get("peak") or {}
    vt1, vt2 = r.get("vt1") or {}, r.get("vt2") or {}
    return {"vo2max_ml_kg_min": finite(vo2max.get("vo2_ml_kg_min")), "vo2max_ml_min": finite(vo2max.get("vo2_ml_min")),
            "vt1_hr_bpm": finite(vt1.get("hr_bpm")), "vt2_hr_bpm": finite(vt2.get("hr_bpm")),
            "vt1_power_w": finite(vt1.get("power_w")), "vt2_power_w": finite(vt2.get("power_w")),
            "vt1_speed_kmh": finite(vt1.get("speed_kmh")), "vt2_speed_kmh": finite(vt2.get("speed_kmh")),
            "peak_power_w": finite(peak.get("power_w")), "peak_speed_kmh": finite(peak.get("speed_kmh")),
            "hr_max_bpm": finite(peak.get("hr_bpm"))}


@dataclass
class ReportData:
    athlete: AthleteInfo
    test: TestInfo = field(default_factory=TestInfo)
    result: dict = field(default_factory=dict)          # analyze_cpet's output (parts may be None or missing)
    samples: dict = field(default_factory=dict)         # column name -> list of floats (None for gaps)
    lactate_steps: list | None = None                   # [{intensity, lactate, heart_rate, length}]
    lactate_result: dict | None = None                  # analyze_lactate's output
    previous: PreviousTest | None = None
    averaging: dict | None = None                       # the strategy used; defaults to result["averaging"]
    methods: dict | None = None                         # anything else the lab needs to reproduce the numbers
    lab_name: str | None = None
    generated_at: dt.datetime | None = None

    def __post_init__(self):
        if not isinstance(self.result, dict):
            self.result = {}
        self.samples = prepare_samples(self.samples)

    @property
    def strategy(self) -> dict | None:
        if isinstance(self.averaging, dict):
            return self.averaging
        a = self.result.get("averaging")
        if isinstance(a, dict):
            return a
        v = self.result.get("vo2max")
        return v.get("strategy") if isinstance(v, dict) and isinstance(v.get("strategy"), dict) else None

    @classmethod
    def from_dict(cls, d: dict) -> "ReportData":
        """From JSON: {athlete, test, result, samples, lactate_steps, lactate_result, previous, averaging, methods}."""
        return cls(athlete=AthleteInfo.from_dict(d.get("athlete")), test=TestInfo.from_dict(d.get("test")),
                   result=d.get("result") or {}, samples=d.get("samples") or {},
                   lactate_steps=d.get("lactate_steps") or None, lactate_result=d.get("lactate_result") or None,
                   previous=PreviousTest.from_dict(d.get("previous")), averaging=d.get("averaging"),
                   methods=d.get("methods"), lab_name=d.get("lab_name"))


# ---------------------------------------------------------------- sample preparation


def _floats(values) -> list[float]:
    """Any sequence (list, numpy array, None) → list of floats with NaN for gaps."""
    if values is None:
        return []
    tolist = getattr(values, "tolist", None)
    if tolist is not None:
        values = tolist()
    out = []
    nan = math.nan
    for v in values:
        if v is None or isinstance(v, (str, bytes, bool)):
            out.append(nan)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = nan
        out.append(f if math.isfinite(f) else nan)
    return out


def prepare_samples(samples: dict | None) -> dict[str, list[float]]:
    """Column-wise lists of floats sorted by time; columns without one finite value are dropped."""
    if not isinstance(samples, dict):
        return {}
    t = _floats(samples.get("time_s"))
    if not t:
        return {}
    n = len(t)
    cols = {}
    for key, values in samples.items():
        if key == "time_s":
            continue
        col = _floats(values)
        if len(col) != n:
            col = (col + [math.nan] * n)[:n]
        if any(v == v for v in col):
            cols[key] = col
    order = sorted((i for i in range(n) if t[i] == t[i]), key=t.__getitem__)
    if order != list(range(n)):
        t = [t[i] for i in order]
        cols = {k: [c[i] for i in order] for k, c in cols.items()}
    return {"time_s": t, **cols}


def moving_average(t: Sequence[float], y: Sequence[float], seconds: float = SMOOTH_SECONDS) -> list[float]:
    """Centred moving mean over a time window, skipping gaps (NaN); O(n) with two pointers."""
    n = len(t)
    half = seconds / 2.0
    out = [math.nan] * n
    lo = hi = 0
    total, count = 0.0, 0
    for i in range(n):
        ti = t[i]
        while hi < n and t[hi] <= ti + half:
            v = y[hi]
            if v == v:
                total += v
                count += 1
            hi += 1
        while t[lo] < ti - half:
            v = y[lo]
            if v == v:
                total -= v
                count -= 1
            lo += 1
        if count and y[i] == y[i]:
            out[i] = total / count
    return out


def decimate(x: Sequence[float], y: Sequence[float], max_points: int = MAX_POINTS) -> tuple[list, list]:
    """Keep at most `max_points` (x, y) pairs, in order, keeping each bucket's minimum and maximum of y so that
    peaks and dips the eye would see survive. Pairs with a NaN are dropped."""
    keep = [i for i, (a, b) in enumerate(zip(x, y)) if a == a and b == b]
    xx = [x[i] for i in keep]
    yy = [y[i] for i in keep]
    n = len(yy)
    if n <= max_points:
        return xx, yy
    buckets = max(1, max_points // 2)
    xs, ys = [], []
    for k in range(buckets):
        a, b = (k * n) // buckets, ((k + 1) * n) // buckets
        if b <= a:
            continue
        chunk = yy[a:b]
        i_lo = a + chunk.index(min(chunk))
        i_hi = a + chunk.index(max(chunk))
        for i in ((i_lo, i_hi) if i_lo < i_hi else (i_hi, i_lo) if i_hi < i_lo else (i_lo,)):
            xs.append(xx[i])
            ys.append(yy[i])
    return xs, ys


def thin(x: Sequence[float], y: Sequence[float], max_points: int = MAX_POINTS) -> tuple[list, list]:
    """For scatter plots: an even stride through the finite pairs (no order in y to preserve)."""
    pts = [(a, b) for a, b in zip(x, y) if a == a and b == b]
    if len(pts) > max_points:
        step = len(pts) / max_points
        pts = [pts[int(i * step)] for i in range(max_points)]
    return [p[0] for p in pts], [p[1] for p in pts]


def ratio(num: Iterable[float], den: Iterable[float], scale: float = 1.0) -> list[float]:
    out = []
    for a, b in zip(num, den):
        out.append(a * scale / b if (a == a and b == b and b > 0) else math.nan)
    return out


def has_values(values: Sequence[float] | None) -> bool:
    return bool(values) and any(v == v for v in values)


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []
