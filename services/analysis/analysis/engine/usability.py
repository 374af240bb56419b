"""Can this test yield a VO2max? Physiological ranges of the samples and the verdict on the whole test.

A sample outside the range a human can produce (VO2 50-8,000 mL/min, HR 25-250 bpm, ...) is a missing
value, counted in a flag. A test is `insufficient` (stored, never reported as a VO2max) when it is too
short, has no exercise phase, its values are mostly implausible or in units that could not be resolved,
or no VO2max came out; `result["insufficient_reasons"]` says which.
"""
from __future__ import annotations

import numpy as np

from . import quality

RANGES = {  # column: (lowest, highest) a person produces during a CPET
    "vo2_ml_min": (50.0, 8000.0),
    "vco2_ml_min": (50.0, 9000.0),
    "ve_l_min": (1.0, 300.0),
    "hr_bpm": (25.0, 250.0),
    "rf_bpm": (3.0, 120.0),
}
UNITS = {"vo2_ml_min": "mL/min", "vco2_ml_min": "mL/min", "ve_l_min": "L/min", "hr_bpm": "bpm", "rf_bpm": "/min"}
MIN_EXERCISE_S = 180.0        # less than 3 min of exercise cannot bring VO2 to a maximum
MOSTLY_IMPLAUSIBLE = 0.5      # more than half the values out of range: the column is not what its name says
# flags that leave nothing to report
BLOCKING = {"too_short", "missing_channel:vo2_ml_min", "units_suspicious:time_s", "analysis_error"}


def physiological(samples: dict, flags: list) -> tuple[dict, dict[str, float]]:
    """samples with out-of-range values as None (a copy; zeros and negatives included) and the share of
    implausible values per column (over the non-missing ones)."""
    out = dict(samples)
    share: dict[str, float] = {}
    for k, (lo, hi) in RANGES.items():
        v = samples.get(k)
        if v is None:
            continue
        try:
            a = np.asarray(v, dtype=float).ravel()
        except (TypeError, ValueError):
            continue  # the engine's own column reader deals with odd cells
        ok = np.isfinite(a)
        if not ok.any():
            continue
        bad = ok & ((a < lo) | (a > hi))
        share[k] = float(bad.sum() / ok.sum())
        # a column mostly out of range is in another unit or another quantity: left whole for the unit
        # check to name, and the test is insufficient (assess)
        if bad.any() and share[k] <= MOSTLY_IMPLAUSIBLE:
            a = a.copy()
            a[bad] = np.nan
            out[k] = a
            sev = "warning" if share[k] > 0.01 else "info"
            quality.flag(flags, f"implausible_values:{k}",
                         f"{int(bad.sum())} {k} values outside {lo:g}-{hi:g} {UNITS[k]} treated as missing", sev)
    return out, share


def assess(result: dict, flags: list, share: dict[str, float]) -> None:
    """Set result["status"] (analyzed | insufficient) and result["insufficient_reasons"]."""
    reasons: list[dict] = []

    def add(code: str, detail: str):
        if not any(r["code"] == code for r in reasons):
            reasons.append({"code": code, "detail": detail})

    for f in flags:
        if f["code"] in BLOCKING and f["severity"] == "error":
            add(f["code"].split(":")[0] if f["code"] != "missing_channel:vo2_ml_min" else "no_vo2", f["message"])
        if f["code"] == "units_suspicious:vo2_ml_min":
            add("units_unresolved", f"VO2 is not in a unit that could be resolved: {f['message']}")
    for k, s in share.items():
        if s > MOSTLY_IMPLAUSIBLE and k in ("vo2_ml_min", "vco2_ml_min", "hr_bpm"):
            lo, hi = RANGES[k]
            add("implausible_range", f"{100 * s:.0f} % of the {k} values lie outside {lo:g}-{hi:g} {UNITS[k]}")
    proto = result.get("protocol") or {}
    inc = proto.get("incremental") or {}
    phases = proto.get("phases") or []
    exercise = [p for p in phases if p.get("phase") in ("incremental", "constant")]
    if proto and not exercise:
        add("no_exercise_phase", "no exercise phase (incremental or constant load) was found")
    span = None
    if inc.get("start_s") is not None and inc.get("end_s") is not None:
        span = inc["end_s"] - inc["start_s"]
    elif exercise:
        span = max(p["end_s"] for p in exercise) - min(p["start_s"] for p in exercise)
    if span is not None and span < MIN_EXERCISE_S:
        add("too_short", f"the exercise phase lasts {span:.0f} s (< {MIN_EXERCISE_S:.0f} s): no VO2max")
    v = (result.get("vo2max") or {}).get("vo2_ml_min")
    if v is None:
        add("no_vo2max", "no VO2max could be computed")
    elif not (RANGES["vo2_ml_min"][0] <= v <= RANGES["vo2_ml_min"][1]):
        add("implausible_range", f"VO2max {v:.0f} mL/min is outside 50-8000 mL/min")
    result["status"] = "insufficient" if reasons else "analyzed"
    result["insufficient_reasons"] = reasons
    if reasons:
        quality.flag(flags, "insufficient", "the test cannot yield a VO2max: " +
                     "; ".join(r["detail"] for r in reasons), "error")
