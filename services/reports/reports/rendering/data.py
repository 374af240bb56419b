"""What a report is made from (`ReportData`), and the preparation of sample series for the eye.

Plain Python plus numpy for the sample columns (no Django): the service builds `ReportData` from measurements' JSON,
tests and the benchmark build it from the analysis engine's output. Every part but the athlete's name may be
missing; the renderer prints what exists.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from .i18n import finite

# numpy is imported in the functions that use it: the web process loads this module (the data classes) and never
# needs numpy (~15 MB); the renderer's process imports it on its first report

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
    # from measurements' /progress: the change of VO2max since this test and whether it exceeds the noise
    change_pct: float | None = None
    meaningful: bool | None = None
    meaningful_change_pct: float | None = None

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
class Branding:
    """The tenant's lab as the report names it: every page's header carries the name (and the logo, a PNG)."""
    lab_name: str | None = None
    lab_address: str | None = None
    lab_contact: str | None = None
    accent_color: str | None = None        # "#rrggbb"
    logo_png: bytes | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> "Branding":
        d = d or {}
        return cls(**{k: d.get(k) or None for k in ("lab_name", "lab_address", "lab_contact", "accent_color",
                                                    "logo_png")})


@dataclass
class ReportData:
    athlete: AthleteInfo
    test: TestInfo = field(default_factory=TestInfo)
    result: dict = field(default_factory=dict)          # analyze_cpet's output (parts may be None or missing)
    samples: dict = field(default_factory=dict)         # column name -> sequence (None/NaN for gaps)
    lactate_steps: list | None = None                   # [{intensity, lactate, heart_rate, length}]
    lactate_result: dict | None = None                  # analyze_lactate's output
    previous: PreviousTest | None = None
    averaging: dict | None = None                       # the strategy used; defaults to result["averaging"]
    methods: dict | None = None                         # anything else the lab needs to reproduce the numbers
    lab_name: str | None = None
    generated_at: dt.datetime | None = None
    conclusion: str | None = None                       # the physiologist's own words, printed as its own section
    branding: Branding = field(default_factory=Branding)

    def __post_init__(self):
        if not isinstance(self.result, dict):
            self.result = {}
        self.samples = prepare_samples(self.samples)
        if self.branding is None:
            self.branding = Branding()
        if self.lab_name and not self.branding.lab_name:
            self.branding.lab_name = self.lab_name

    @property
    def has_cpet(self) -> bool:
        """Gas exchange was measured (a VO2max or VO2 samples), as opposed to a lactate-only step test."""
        v = self.result.get("vo2max")
        return (isinstance(v, dict) and finite(v.get("vo2_ml_min")) is not None) or has_values(
            self.samples.get("vo2_ml_min"))

    @property
    def has_lactate(self) -> bool:
        steps = [s for s in (self.lactate_steps or []) if isinstance(s, dict) and finite(s.get("lactate")) is not None]
        res = self.lactate_result if isinstance(self.lactate_result, dict) else {}
        return bool(steps) or any(isinstance(t, dict) and finite(t.get("intensity")) is not None
                                  for t in as_list(res.get("thresholds")))

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
                   methods=d.get("methods"), lab_name=d.get("lab_name"), conclusion=d.get("conclusion"),
                   branding=Branding.from_dict(d.get("branding")))


# ---------------------------------------------------------------- sample preparation
# numpy arrays inside (float64, NaN for gaps); chart series leave as short lists.


def _floats(values) -> np.ndarray:
    """Any sequence (list, numpy array, None) → float array with NaN for gaps and non-numbers."""
    import numpy as np
    if values is None:
        return np.empty(0)
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        out = values.astype(float, copy=True).ravel()
    else:
        seq = values.tolist() if hasattr(values, "tolist") else list(values)
        try:
            out = np.asarray([np.nan if v is None else v for v in seq], dtype=float)
        except (TypeError, ValueError):
            out = np.empty(len(seq))
            for i, v in enumerate(seq):
                try:
                    out[i] = float(v) if not isinstance(v, (str, bytes, bool)) and v is not None else np.nan
                except (TypeError, ValueError):
                    out[i] = np.nan
        if out.ndim != 1:
            return np.empty(0)
    out[~np.isfinite(out)] = np.nan
    return out


def prepare_samples(samples: dict | None) -> dict[str, np.ndarray]:
    """Column-wise float arrays sorted by time; columns without one finite value are dropped."""
    import numpy as np
    if not isinstance(samples, dict):
        return {}
    t = _floats(samples.get("time_s"))
    if not t.size:
        return {}
    n = t.size
    cols = {}
    for key, values in samples.items():
        if key == "time_s":
            continue
        col = _floats(values)
        if col.size != n:
            col = np.concatenate([col[:n], np.full(max(n - col.size, 0), np.nan)])
        if np.isfinite(col).any():
            cols[key] = col
    ok = np.isfinite(t)
    order = np.argsort(np.where(ok, t, np.inf), kind="stable")[: int(ok.sum())]
    return {"time_s": t[order], **{k: c[order] for k, c in cols.items()}}


def moving_average(t: np.ndarray, y: np.ndarray, seconds: float = SMOOTH_SECONDS) -> np.ndarray:
    """Centred moving mean over a time window, skipping gaps (NaN); O(n log n) with cumulative sums."""
    import numpy as np
    t, y = np.asarray(t, float), np.asarray(y, float)
    ok = np.isfinite(y)
    csum = np.concatenate([[0.0], np.cumsum(np.where(ok, y, 0.0))])
    ccount = np.concatenate([[0], np.cumsum(ok)])
    lo = np.searchsorted(t, t - seconds / 2.0, side="left")
    hi = np.searchsorted(t, t + seconds / 2.0, side="right")
    count = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (csum[hi] - csum[lo]) / count
    out[~ok | (count == 0)] = np.nan
    return out


def decimate(x, y, max_points: int = MAX_POINTS) -> tuple[list, list]:
    """Keep at most `max_points` (x, y) pairs, in order, keeping each bucket's minimum and maximum of y so that
    peaks and dips the eye would see survive. Pairs with a NaN are dropped."""
    import numpy as np
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = y.size
    if n <= max_points:
        return x.tolist(), y.tolist()
    buckets = max(1, max_points // 2)
    edges = (np.arange(buckets + 1) * n) // buckets
    starts = edges[:-1]
    lo = np.minimum.reduceat(y, starts)
    hi = np.maximum.reduceat(y, starts)
    bucket = np.repeat(np.arange(buckets), np.diff(edges))
    is_lo = y == lo[bucket]
    is_hi = y == hi[bucket]
    idx = np.arange(n)
    first_lo = np.full(buckets, n)
    first_hi = np.full(buckets, n)
    np.minimum.at(first_lo, bucket[is_lo], idx[is_lo])
    np.minimum.at(first_hi, bucket[is_hi], idx[is_hi])
    keep = np.unique(np.concatenate([first_lo, first_hi]))
    keep = keep[keep < n]
    return x[keep].tolist(), y[keep].tolist()


def thin(x, y, max_points: int = MAX_POINTS) -> tuple[list, list]:
    """For scatter plots: an even stride through the finite pairs (no order in y to preserve)."""
    import numpy as np
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size > max_points:
        idx = (np.arange(max_points) * (x.size / max_points)).astype(int)
        x, y = x[idx], y[idx]
    return x.tolist(), y.tolist()


def ratio(num, den, scale: float = 1.0) -> np.ndarray:
    import numpy as np
    num, den = np.asarray(num, float), np.asarray(den, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num * scale / den
    out[~(den > 0)] = np.nan
    return out


def has_values(values) -> bool:
    import numpy as np
    if values is None:
        return False
    arr = values if isinstance(values, np.ndarray) else _floats(values)
    return bool(arr.size) and bool(np.isfinite(arr).any())


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []
