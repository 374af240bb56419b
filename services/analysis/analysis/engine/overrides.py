"""The physiologist's overrides, checked against the test before they are used.

A threshold is set by one of time_s, vo2_ml_min, power_w, speed_kmh or hr_bpm (the first given, in that
order, sets its moment: the first time inside the incremental phase the averaged channel reaches the
value); the other values are read off the test at that moment, except those typed in too. VO2max may be
set with a reason (e.g. from a verification bout). An excluded breath range must lie inside the test.

Anything that does not fit the test raises InvalidOverride naming the field and the allowed range,
so nothing is computed from it (the HTTP layer answers 422 urn:vo2:problem:invalid-override).
"""
from __future__ import annotations

import math

import numpy as np

from . import thresholds as thr

THRESHOLD_KEYS = ("time_s", "vo2_ml_min", "power_w", "speed_kmh", "hr_bpm")
UNITS = {"time_s": "s", "vo2_ml_min": "mL/min", "power_w": "W", "speed_kmh": "km/h", "hr_bpm": "bpm"}
VO2MAX_RANGE = (50.0, 8000.0)
MAX_REASON = 500


class InvalidOverride(ValueError):
    """errors: [{field, detail, allowed?: {min, max, unit}}]."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['field']}: {e['detail']}" for e in errors))
        self.errors = errors


def _error(field: str, detail: str, lo: float | None = None, hi: float | None = None, unit: str | None = None):
    e = {"field": field, "detail": detail}
    if lo is not None and hi is not None:
        e["allowed"] = {"min": _round(lo), "max": _round(hi), "unit": unit}
    raise InvalidOverride([e])


def _round(v: float) -> float:
    return float(round(v, 1))


def _num(field: str, v) -> float:
    if isinstance(v, bool):
        _error(field, "must be a number")
    try:
        f = float(v)
    except (TypeError, ValueError):
        _error(field, "must be a number")
    if not math.isfinite(f):
        _error(field, "must be a finite number")
    return f


def check_keys(overrides: dict) -> None:
    known = {"vt1", "vt2", "vo2max", "exclude"}
    for k in overrides:
        if k not in known:
            _error(f"overrides.{k}", f"unknown override; valid: {', '.join(sorted(known))}")


def check_exclude(exclude, t0: float, tn: float) -> list[tuple[float, float]]:
    """Each excluded range [a, b] with t0 <= a < b <= tn (the test's first and last breath)."""
    if exclude is None:
        return []
    if not isinstance(exclude, (list, tuple)):
        _error("overrides.exclude", "must be a list of [start_s, end_s] ranges")
    out = []
    for i, rng in enumerate(exclude):
        field = f"overrides.exclude[{i}]"
        if not isinstance(rng, (list, tuple)) or len(rng) != 2:
            _error(field, "must be [start_s, end_s]")
        a, b = _num(field, rng[0]), _num(field, rng[1])
        if not a < b:
            _error(field, "start_s must be before end_s", t0, tn, "s")
        if a < t0 - 1e-6 or b > tn + 1e-6:
            _error(field, f"the range [{a:g}, {b:g}] s is not inside the test", t0, tn, "s")
        out.append((a, b))
    return out


def _window_range(full: dict, key: str, window: tuple[float, float]) -> tuple[float, float] | None:
    t = full["time_s"]
    y = full.get(key)
    if y is None:
        return None
    m = np.isfinite(y) & (t >= window[0]) & (t <= window[1])
    if not m.any():
        return None
    return float(np.min(y[m])), float(np.max(y[m]))


def _first_reach(full: dict, key: str, value: float, window: tuple[float, float]) -> float | None:
    t = full["time_s"]
    y = full[key]
    m = np.isfinite(y) & (t >= window[0]) & (t <= window[1])
    tt, yy = t[m], y[m]
    hit = np.nonzero(yy >= value)[0]
    if not hit.size:
        return None
    i = int(hit[0])
    if i == 0:
        return float(tt[0])
    # linear between the last sample below and the first one reaching the value
    y0, y1 = yy[i - 1], yy[i]
    return float(tt[i - 1] + (value - y0) / (y1 - y0) * (tt[i] - tt[i - 1])) if y1 > y0 else float(tt[i])


def manual_threshold(name: str, ov: dict, full: dict, window: tuple[float, float] | None) -> dict:
    """The lab's threshold `name` ("vt1"/"vt2") on the test: every channel at its moment, or InvalidOverride."""
    base = f"overrides.{name}"
    if not isinstance(ov, dict):
        _error(base, "must be an object with one of " + ", ".join(THRESHOLD_KEYS))
    unknown = [k for k in ov if k not in THRESHOLD_KEYS + ("reason",)]
    if unknown:
        _error(f"{base}.{unknown[0]}", "unknown key; valid: " + ", ".join(THRESHOLD_KEYS + ("reason",)))
    given = [k for k in THRESHOLD_KEYS if ov.get(k) is not None]
    if not given:
        _error(base, "give one of " + ", ".join(THRESHOLD_KEYS))
    if window is None:
        _error(base, "the test has no incremental phase (constant load): no threshold can be set")
    values = {k: _num(f"{base}.{k}", ov[k]) for k in given}
    for k, v in values.items():
        if k == "time_s":
            lo, hi = window
        else:
            rng = _window_range(full, k, window)
            if rng is None:
                _error(f"{base}.{k}", f"the test has no {k} inside the incremental phase")
            lo, hi = rng
        if not (lo - 1e-6 <= v <= hi + 1e-6):
            _error(f"{base}.{k}", f"{v:g} {UNITS[k]} is outside the incremental phase", lo, hi, UNITS[k])
    primary = given[0]
    tv = values["time_s"] if primary == "time_s" else _first_reach(full, primary, values[primary], window)
    if tv is None:  # inside the range but never reached going up (a falling channel): the last moment
        tv = window[1]
    row = thr.at_time(full, tv)
    row.update(values)
    reason = ov.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        _error(f"{base}.reason", f"must be text of at most {MAX_REASON} characters")
    row.update(method="manual", confidence=None, manual=True, set_by=primary, reason=reason)
    return row


def vo2max_override(ov) -> dict:
    """{vo2_ml_min, reason} -> the values, or InvalidOverride (the reason is required)."""
    base = "overrides.vo2max"
    if not isinstance(ov, dict):
        _error(base, "must be {vo2_ml_min, reason}")
    unknown = [k for k in ov if k not in ("vo2_ml_min", "reason")]
    if unknown:
        _error(f"{base}.{unknown[0]}", "unknown key; valid: vo2_ml_min, reason")
    if ov.get("vo2_ml_min") is None:
        _error(f"{base}.vo2_ml_min", "required", *VO2MAX_RANGE, "mL/min")
    v = _num(f"{base}.vo2_ml_min", ov["vo2_ml_min"])
    if not VO2MAX_RANGE[0] <= v <= VO2MAX_RANGE[1]:
        _error(f"{base}.vo2_ml_min", f"{v:g} mL/min is not a physiological VO2max", *VO2MAX_RANGE, "mL/min")
    reason = ov.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        _error(f"{base}.reason", f"say why VO2max is set by hand (text, 1-{MAX_REASON} characters)")
    return {"vo2_ml_min": v, "reason": reason.strip()}


def check_order(vt1: dict | None, vt2: dict | None, vo2max: float | None, manual: set[str]) -> None:
    """VT1 before and below VT2, VT1 below VO2max, where the lab set one of them."""
    def field(name, d):
        return f"overrides.{name}.{(d or {}).get('set_by') or 'vo2_ml_min'}"

    if vt1 and vt2 and (manual & {"vt1", "vt2"}):
        name = "vt2" if "vt2" in manual else "vt1"
        d = vt2 if name == "vt2" else vt1
        t1, t2 = vt1.get("time_s"), vt2.get("time_s")
        v1, v2 = vt1.get("vo2_ml_min"), vt2.get("vo2_ml_min")
        if t1 is not None and t2 is not None and t2 <= t1:
            if name == "vt2":
                _error(field(name, d), f"VT2 at {t2:.0f} s is at or before VT1 at {t1:.0f} s: VT2 must come after VT1")
            _error(field(name, d), f"VT1 at {t1:.0f} s is at or after VT2 at {t2:.0f} s: VT1 must come before VT2")
        if v1 is not None and v2 is not None and v2 <= v1:
            _error(field(name, d), f"VT2 VO2 {v2:.0f} mL/min is not above VT1 VO2 {v1:.0f} mL/min")
    if vt1 and vo2max and vt1.get("vo2_ml_min") is not None and vt1["vo2_ml_min"] >= vo2max and \
            (manual & {"vt1", "vo2max"}):
        f = field("vt1", vt1) if "vt1" in manual else "overrides.vo2max.vo2_ml_min"
        _error(f, f"VT1 VO2 {vt1['vo2_ml_min']:.0f} mL/min is not below VO2max {vo2max:.0f} mL/min")
    if vt2 and vo2max and vt2.get("vo2_ml_min") is not None and vt2["vo2_ml_min"] > vo2max and \
            (manual & {"vt2", "vo2max"}):
        f = field("vt2", vt2) if "vt2" in manual else "overrides.vo2max.vo2_ml_min"
        _error(f, f"VT2 VO2 {vt2['vo2_ml_min']:.0f} mL/min is above VO2max {vo2max:.0f} mL/min")
