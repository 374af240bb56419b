"""Ventilatory thresholds: each classic method separately, then a consensus.

VT1 (first ventilatory / gas-exchange threshold)
  * "V-slope"  - Beaver, Wasserman & Whipp 1986: two-line regression of VCO2 vs VO2 below the
                 RCP; the upper slope must exceed the lower one by >= 0.1.
  * "EqO2"     - VE/VO2 leaves its nadir and rises while VE/VCO2 stays flat.
  * "ExCO2"    - excess CO2 (VCO2^2/VO2 - VCO2, Gaskill 2001) turns upward.
  * "PetO2"    - end-tidal PO2 leaves its nadir (when recorded).
VT2 (respiratory compensation point)
  * "VE-VCO2"  - VE vs VCO2 steepens (Beaver 1986, Wasserman).
  * "EqCO2"    - VE/VCO2 rises after VT1.
  * "PetCO2"   - end-tidal PCO2 falls after its plateau.
Every breakpoint comes from `breakpoints.two_segment_fit` (prefix sums, O(n) for all splits).
The consensus is the median VO2 of the methods that found a valid break; its confidence
falls with the spread between methods and with methods that found nothing.
"""
from __future__ import annotations

import numpy as np

from .breakpoints import two_segment_fit

SPREAD_FOR_ZERO_CONFIDENCE = 0.15  # methods 15 % of VO2 apart -> no confidence in the consensus


def _minpts(n):
    # keep each segment >= 10 % of the points: edge splits fit noise, not physiology
    return max(3, int(0.1 * n))


def _bp(x, y, cond):
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 12:
        return None, None
    f = two_segment_fit(x[ok], y[ok], _minpts(int(ok.sum())))
    if f is None:
        return None, None
    return (f.breakpoint_x if cond(f) else None), f


def _ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    r[~np.isfinite(r)] = np.nan
    return r


def detect(s: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """s: averaged exercise-phase series with time_s, vo2, vco2, ve, (petco2, peto2).
    Returns ({method: vo2 or None} for VT1, same for VT2) plus fit details."""
    vo2, vco2, ve = s["vo2_ml_min"], s["vco2_ml_min"], s["ve_l_min"]
    pet_co2, pet_o2 = s.get("petco2_mmhg"), s.get("peto2_mmhg")
    vt1: dict[str, dict] = {}
    vt2: dict[str, dict] = {}

    def rec(store, name, val, fit):
        store[name] = {"vo2_ml_min": None if val is None else float(val),
                       "fit": None if fit is None else {"left_slope": fit.left[1], "right_slope": fit.right[1]}}

    # VT2 first from VE vs VCO2 over the whole exercise phase (the relation is linear until RCP)
    v, f = _bp(vco2, ve, lambda f: f.right[1] > 1.1 * f.left[1] and f.right[1] > 0)
    vt2_vo2 = None
    if v is not None:
        # report the break in VO2 units: VO2 where VCO2 crosses the break
        vt2_vo2 = _x_at(vco2, vo2, v)
    rec(vt2, "VE-VCO2", vt2_vo2, f)

    below = np.ones_like(vo2, bool) if vt2_vo2 is None else (vo2 <= vt2_vo2)
    # VT1 methods below the RCP (Beaver: hyperventilation above RCP distorts V-slope)
    v, f = _bp(vo2[below], vco2[below], lambda f: f.right[1] - f.left[1] >= 0.1)
    rec(vt1, "V-slope", v, f)
    eqo2 = _ratio(ve * 1000.0, vo2)
    eqco2 = _ratio(ve * 1000.0, vco2)
    # the early hyperbolic fall of VE/VO2 (dead space washing out) is not the flat part before the
    # rise; leaving out the lowest 30 % of the VO2 range keeps the two lines about the nadir
    vlo = np.nanmin(vo2[below]) + 0.3 * (np.nanmax(vo2[below]) - np.nanmin(vo2[below])) if below.any() else 0
    nad = below & (vo2 >= vlo)
    v, f = _bp(vo2[nad], eqo2[nad], lambda f: f.right[1] > 0 and f.right[1] > f.left[1])
    if v is not None:
        # VE/VCO2 must not rise over the same span (else it is the RCP, not VT1)
        m = nad & (vo2 >= v)
        if m.sum() >= 5 and np.isfinite(eqco2[m]).sum() >= 5:
            k = np.isfinite(eqco2[m])
            sl_co2 = np.polyfit(vo2[m][k], eqco2[m][k], 1)[0]
            if sl_co2 > 0.5 * f.right[1]:
                v = None
    rec(vt1, "EqO2", v, f)
    exco2 = vco2 * vco2 / np.where(vo2 > 0, vo2, np.nan) - vco2
    v, f = _bp(vo2[below], exco2[below], lambda f: f.right[1] > f.left[1] and f.right[1] > 0)
    rec(vt1, "ExCO2", v, f)
    if pet_o2 is not None and np.isfinite(pet_o2).sum() >= 12:
        v, f = _bp(vo2[below], pet_o2[below], lambda f: f.right[1] > 0 and f.right[1] > f.left[1])
        rec(vt1, "PetO2", v, f)

    vt1_c = _median([m["vo2_ml_min"] for m in vt1.values()])
    above = np.ones_like(vo2, bool) if vt1_c is None else (vo2 >= vt1_c)
    v, f = _bp(vo2[above], eqco2[above], lambda f: f.right[1] > 0 and f.right[1] > f.left[1])
    rec(vt2, "EqCO2", v, f)
    if pet_co2 is not None and np.isfinite(pet_co2).sum() >= 12:
        v, f = _bp(vo2[above], pet_co2[above], lambda f: f.right[1] < 0 and f.right[1] < f.left[1])
        rec(vt2, "PetCO2", v, f)
    return vt1, vt2


def _x_at(x, y, xv):
    """y where x first reaches xv (x in time order, linear interpolation)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        return None
    i = np.nonzero(x >= xv)[0]
    if i.size == 0:
        return float(y[-1])
    j = int(i[0])
    if j == 0:
        return float(y[0])
    x0, x1 = x[j - 1], x[j]
    w = 0.0 if x1 == x0 else (xv - x0) / (x1 - x0)
    return float(y[j - 1] + w * (y[j] - y[j - 1]))


def _median(vals):
    v = [x for x in vals if x is not None]
    return float(np.median(v)) if v else None


def consensus(methods: dict[str, dict]) -> tuple[float | None, float, str | None]:
    """(VO2, confidence 0..1, method label)."""
    vals = [m["vo2_ml_min"] for m in methods.values() if m["vo2_ml_min"] is not None]
    if not vals:
        return None, 0.0, None
    med = float(np.median(vals))
    spread = (max(vals) - min(vals)) / med if med > 0 else 1.0
    found = len(vals) / max(len(methods), 1)
    conf = found * max(0.0, 1.0 - spread / SPREAD_FOR_ZERO_CONFIDENCE)
    if len(vals) == 1:
        conf = min(conf, 0.5)  # a single method is never corroborated
        label = next(k for k, m in methods.items() if m["vo2_ml_min"] is not None)
    else:
        label = "consensus"
    return med, round(float(conf), 2), label


def at_vo2(series: dict[str, np.ndarray], vo2_value: float) -> dict:
    """Time, HR, power and speed where the averaged VO2 first reaches vo2_value."""
    t = series["time_s"]
    tv = _x_at(series["vo2_ml_min"], t, vo2_value)
    return at_time(series, tv) | {"vo2_ml_min": float(vo2_value)}


def at_time(series: dict[str, np.ndarray], tv: float | None) -> dict:
    t = series["time_s"]
    out = {"time_s": None if tv is None else float(tv)}
    for key, name in (("vo2_ml_min", "vo2_ml_min"), ("hr_bpm", "hr_bpm"), ("power_w", "power_w"),
                      ("speed_kmh", "speed_kmh")):
        y = series.get(key)
        if y is None or tv is None:
            out[name] = None
            continue
        ok = np.isfinite(y) & np.isfinite(t)
        if ok.sum() == 0 or tv < t[ok][0] - 1e-9 or tv > t[ok][-1] + 1e-9:
            out[name] = None
        else:
            out[name] = float(np.interp(tv, t[ok], y[ok]))
    return out
