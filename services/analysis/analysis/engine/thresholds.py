"""Ventilatory thresholds, searched only inside the incremental phase: each method, then a consensus.

Data: the cleaned breaths interpolated to 1 s and averaged into 10-s bins, from the onset of the
incremental phase plus 30 s (Beaver 1986 leave out the first part, where VO2 kinetics and CO2 stores
distort the relations) to the end of exercise, rests inside the phase left out. Every break is
searched where VO2 lies within the physiological bounds (VT1 35-90 %, VT2 55-100 % of VO2peak).
A step test with stages of >= 4 min is judged instead on one point per stage, its last
30 s (`stage_points`); there VE/VO2 is flat until VT1 and VE/VCO2 creeps up between VT1 and VT2, so
VE/VO2 and PetO2 get the flat-then-rising fit and VE/VCO2 and PetCO2 the broken line, all stages are
seen by every method, and the consensus is the rule-based median (the combiner was fitted on ramps).

VT2 (respiratory compensation point) first, since VT1 methods must not see the data above it:
  * "VE/VCO2"  - Wasserman / Keir 2022: VE/VCO2 leaves its flat course and rises
                 (flat line then a rising hinge, fitted against time).
  * "PetCO2"   - PetCO2 leaves its plateau and falls (when recorded).
  * "VE-VCO2"  - Beaver 1986: VE against VCO2 steepens (two-line regression).
VT1 (gas-exchange threshold), on the data below the VT2 of the methods above (their median):
  * "V-slope"  - Beaver 1986: two-line regression of VCO2 on VO2 (both mL/min: equal axes), the upper
                 slope at least 0.1 steeper.
  * "VE/VO2"   - Wasserman / Keir: VE/VO2 rises while VE/VCO2 stays flat.
  * "PetO2"    - PetO2 leaves its nadir and rises (when recorded).
  * "ExCO2"    - excess CO2 (VCO2^2/VO2 - VCO2, Gaskill 2001) turns upward.
Each method reports its own break (VO2, time). The consensus is the combiner's estimate when its
fitted parameters are available (models/vt_combiner.json: a ridge regression over the methods'
results expressed as fractions of VO2peak and the VE/VO2, VE/VCO2 and RER
curves sampled at 40..100 % of VO2peak, for VT2 also the VE/VCO2 nadir and PetCO2 maximum above VT1
(`vt2_markers`), for VT1 averaged with a kernel ridge and then with gradient-boosted trees
(`boosted_trees`); trained and cross-validated on the labelled Oxynet
tests by tools/train_vt_combiner.py), else the median of the methods. Its confidence falls with the spread
between methods, with methods that found nothing, and is low outside the physiological bounds;
with fewer than two methods agreeing on anything the threshold is "undetermined" (None), not a guess.
The confidence measures how well the methods agree with each other, not with an expert: on the
labelled tests it did not predict the error against the expert label (rank correlation about 0).
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from .breakpoints import two_segment_fit

BIN_S = 10.0
EXCLUDE_START_S = 30.0
BOUNDS = {"vt1": (0.35, 0.90), "vt2": (0.55, 1.00)}
SPREAD_FOR_ZERO_CONFIDENCE = 0.15  # methods 15 % of VO2peak apart -> no confidence in the consensus
MRT_S = 45.0  # VO2 mean response time on a ramp (Keir et al. 2022 report ~40-50 s in healthy adults)
MODEL_PATH = Path(__file__).with_name("models") / "vt_combiner.json"
VT1_METHODS = ("V-slope", "VE/VO2", "PetO2", "ExCO2")
VT2_METHODS = ("VE/VCO2", "PetCO2", "VE-VCO2")


# ----------------------------------------------------------------------------- data
def prepare(t: np.ndarray, cols: dict[str, np.ndarray], w0: float, w1: float, rests=()) -> dict:
    """10-s bin means of the incremental phase (onset + 30 s .. end), rests left out."""
    keys = ("vo2_ml_min", "vco2_ml_min", "ve_l_min", "petco2_mmhg", "peto2_mmhg", "hr_bpm")
    a = w0 + EXCLUDE_START_S
    m = (t >= a) & (t <= w1)
    for r0, r1 in rests:
        m &= ~((t >= r0) & (t <= r1))
    out = {"time_s": np.array([])} | {k: np.array([]) for k in keys}
    if m.sum() < 3 or w1 - a < 3 * BIN_S:
        return out
    tt = t[m]
    edges = np.arange(a, w1 + 1e-9, BIN_S)
    k = np.clip(np.searchsorted(edges, tt, side="right") - 1, 0, edges.size - 1)
    cnt = np.bincount(k, minlength=edges.size).astype(float)
    keep = cnt > 0
    out["time_s"] = (edges + BIN_S / 2)[keep]
    for key in keys:
        y = cols.get(key)
        if y is None:
            out[key] = np.full(keep.sum(), np.nan)
            continue
        y = y[m]
        ok = np.isfinite(y)
        c = np.bincount(k[ok], minlength=edges.size).astype(float)
        s = np.bincount(k[ok], weights=y[ok], minlength=edges.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[key] = np.where(c > 0, s / np.where(c > 0, c, 1), np.nan)[keep]
    return out


STAGE_MIN = 5            # stage-end points a step test needs for thresholds
STAGE_STEADY_S = 240.0   # stages this long (4-5 min, often with rests between): judged on their last 30 s;
                         # shorter ones keep 10-s bins (9 stage ends of 3-min stages were too noisy to fit)


def stage_points(stages: list[dict], w0: float, w1: float) -> dict | None:
    """One point per stage of a step test inside the incremental phase: the stage's last-30-s means
    (protocol.stage_summaries), at the middle of that half minute. None when the stages are short
    (a steady state is not reached, 10-s bins serve better) or too few."""
    st = [s for s in stages if s.get("vo2_ml_min") is not None and w0 <= s["end_s"] <= w1 + 1]
    if len(st) < STAGE_MIN or float(np.median([s["duration_s"] for s in st])) < STAGE_STEADY_S:
        return None
    keys = ("vo2_ml_min", "vco2_ml_min", "ve_l_min", "petco2_mmhg", "peto2_mmhg", "hr_bpm")
    out = {"time_s": np.array([s["end_s"] - s["averaged_s"] / 2 for s in st], float)}
    for k in keys:
        out[k] = np.array([np.nan if s.get(k) is None else s[k] for s in st], float)
    return out


def _ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    r[~np.isfinite(r)] = np.nan
    return r


# ----------------------------------------------------------------------------- fits
def _flat_hinge(x: np.ndarray, y: np.ndarray, cand: np.ndarray, sign: float, n_min: int = 8):
    """y = c + d (x - T)+ for every candidate T (least squares); best T with sign(d) = sign.

    The flat left part is the course of a ventilatory equivalent or end-tidal pressure before its
    threshold; a free left slope would chase the early fall of VE/VO2 (dead space washing out)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < n_min or cand.size == 0:
        return None
    sc = max(float(np.ptp(x)), 1e-9)
    h = np.maximum(x[None, :] - cand[:, None], 0.0) / sc          # (m, n)
    n = float(x.size)
    sh, shh, shy = h.sum(1), (h * h).sum(1), h @ y
    sy, syy = y.sum(), float(y @ y)
    det = n * shh - sh * sh
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (n * shy - sh * sy) / det
        c = (sy - d * sh) / n
        rss = syy - c * sy - d * shy
    good = np.isfinite(rss) & (det > 1e-12) & (sign * d > 0)
    if not good.any():
        return None
    i = int(np.argmin(np.where(good, rss, np.inf)))
    return float(cand[i]), float(d[i] / sc)


def _hinge(x: np.ndarray, y: np.ndarray, cand: np.ndarray, sign: float, n_min: int = 8):
    """Continuous broken line y = a + b x + d (x - T)+ for every candidate T; best T where the slope
    changes in direction `sign` and the right part moves that way (Wasserman's "rises after its nadir")."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < n_min or cand.size == 0:
        return None
    x0, sc = float(x.mean()), max(float(np.ptp(x)), 1e-9)
    u = (x - x0) / sc
    h = np.maximum(x[None, :] - cand[:, None], 0.0) / sc   # (m, n)
    m = cand.size
    n = float(x.size)
    sh, shu, shh, shy = h.sum(1), h @ u, (h * h).sum(1), h @ y
    G = np.empty((m, 3, 3))
    G[:, 0, 0], G[:, 0, 1], G[:, 1, 1] = n, u.sum(), float(u @ u)
    G[:, 1, 0] = G[:, 0, 1]
    G[:, 0, 2] = G[:, 2, 0] = sh
    G[:, 1, 2] = G[:, 2, 1] = shu
    G[:, 2, 2] = shh + 1e-12
    b = np.empty((m, 3))
    b[:, 0], b[:, 1], b[:, 2] = y.sum(), float(u @ y), shy
    try:
        beta = np.linalg.solve(G, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return None
    rss = float(y @ y) - (beta * b).sum(1)
    good = np.isfinite(rss) & (sign * beta[:, 2] > 0) & (sign * (beta[:, 1] + beta[:, 2]) > 0)
    if not good.any():
        return None
    i = int(np.argmin(np.where(good, rss, np.inf)))
    return float(cand[i]), float((beta[i, 1] + beta[i, 2]) / sc)


def _two_line(x, y, cond, n_min: int = 8):
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < n_min:
        return None
    f = two_segment_fit(x[ok], y[ok], max(3, int(0.15 * ok.sum())))
    if f is None or not cond(f):
        return None
    return f


def _first_time(t: np.ndarray, v: np.ndarray, value: float) -> float | None:
    """First time the (binned) VO2 reaches value, interpolated between bins."""
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    i = np.nonzero(v >= value)[0]
    if i.size == 0:
        return None
    j = int(i[0])
    if j == 0:
        return float(t[0])
    w = (value - v[j - 1]) / (v[j] - v[j - 1]) if v[j] != v[j - 1] else 1.0
    return float(t[j - 1] + w * (t[j] - t[j - 1]))


def _smooth3(y):
    if y.size < 3:
        return y.copy()
    p = np.concatenate([[y[0]], y, [y[-1]]])
    return (p[:-2] + p[1:-1] + p[2:]) / 3


def detect(s: dict[str, np.ndarray], vo2_peak: float, stage_ends: bool = False) -> tuple[dict, dict]:
    """s: `prepare` (or `stage_points`) output. Returns ({VT1 method: row}, {VT2 method: row}); row =
    {vo2_ml_min, time_s, fit} with None values where the method found no valid break. stage_ends: one
    point per stage (steady-state values of a step test): no smoothing across stages, fits from 5 points."""
    t, vo2, vco2, ve = s["time_s"], s["vo2_ml_min"], s["vco2_ml_min"], s["ve_l_min"]
    vt1 = {m: {"vo2_ml_min": None, "time_s": None, "fit": None} for m in VT1_METHODS}
    vt2 = {m: {"vo2_ml_min": None, "time_s": None, "fit": None} for m in VT2_METHODS}
    n = STAGE_MIN if stage_ends else 8
    if t.size < n or not vo2_peak or not np.isfinite(vo2_peak):
        return vt1, vt2
    vs = vo2.copy() if stage_ends else _smooth3(vo2)  # VO2 read at a candidate time: the 30-s mean around it
    frac = vs / vo2_peak

    def cands(key, hi_t=None):
        lo, hi = BOUNDS[key]
        m = (frac >= lo) & (frac <= hi) & np.isfinite(frac)
        m &= (t >= t[0] + BIN_S) & (t <= t[-1] - BIN_S)  # leave a point or two on each side
        if hi_t is not None:
            m &= t <= hi_t
        return t[m]

    def at_t(store, name, tv, fit):
        if tv is None:
            return
        v = float(np.interp(tv, t, vs))
        store[name] = {"vo2_ml_min": v, "time_s": float(tv), "fit": fit}

    def at_vo2(store, name, v, fit, lim):
        if v is None or not np.isfinite(v):
            return
        lo, hi = BOUNDS[lim]
        if not (lo * vo2_peak <= v <= hi * vo2_peak):
            return
        store[name] = {"vo2_ml_min": float(v), "time_s": _first_time(t, vs, v), "fit": fit}

    eqo2 = _ratio(ve * 1000.0, vo2)
    eqco2 = _ratio(ve * 1000.0, vco2)
    # ramps: VE/VO2 first falls (dead space washing out), so its break is a broken line, while VE/VCO2 is
    # flat until RCP; at the end of steady-state stages VE/VO2 is flat until VT1 and VE/VCO2 creeps up
    # between VT1 and VT2, so there the two models swap
    fit1, fit2 = (_flat_hinge, _hinge) if stage_ends else (_hinge, _flat_hinge)
    kind1 = "flat then rising vs time, stage ends" if stage_ends else "broken line vs time"
    kind2 = "broken line vs time, stage ends" if stage_ends else "flat then {} vs time"
    c2 = cands("vt2")
    r = fit2(t, eqco2, c2, +1, n)
    if r:
        at_t(vt2, "VE/VCO2", r[0], {"kind": kind2.format("rising"), "rise_per_min": r[1] * 60})
    pco2 = s.get("petco2_mmhg")
    if pco2 is not None and np.isfinite(pco2).sum() >= n:
        r = fit2(t, pco2, c2, -1, n)
        if r:
            at_t(vt2, "PetCO2", r[0], {"kind": kind2.format("falling"), "fall_per_min": -r[1] * 60})
    lo2 = BOUNDS["vt2"][0] * vo2_peak
    m = vs >= 0.8 * lo2  # VE-VCO2 is linear until RCP; the low end adds nothing but dead-space curvature
    f = _two_line(vco2[m], ve[m], lambda f: f.right[1] > 1.1 * f.left[1] and f.right[1] > 0, n)
    if f is not None:
        # the break in VCO2 units -> the time VCO2 crosses it -> VO2 then
        tv = _first_time(t, vco2 if stage_ends else _smooth3(vco2), f.breakpoint_x)
        if tv is not None and c2.size and c2[0] <= tv <= c2[-1]:
            at_t(vt2, "VE-VCO2", tv, {"left_slope": f.left[1], "right_slope": f.right[1]})
    t2s = [m["time_s"] for m in vt2.values() if m["time_s"] is not None]
    t2 = float(np.median(t2s)) if t2s else None
    flat_span = np.ones(t.size, bool) if t2 is None else (t <= t2)  # where VE/VCO2 must stay flat for VT1
    if stage_ends:
        # a handful of stages: cutting the stages above a first VT2 guess leaves too few for VT1's fits
        # (VT2 is searched again from VT1 below)
        t2 = None
    hi_t = (t2 - BIN_S) if t2 is not None else None
    below = np.ones(t.size, bool) if t2 is None else (t <= t2)
    c1 = cands("vt1", hi_t)
    f = _two_line(vo2[below], vco2[below], lambda f: f.right[1] - f.left[1] >= 0.1, n)
    if f is not None:
        at_vo2(vt1, "V-slope", f.breakpoint_x, {"left_slope": f.left[1], "right_slope": f.right[1]}, "vt1")
        if vt1["V-slope"]["time_s"] is not None and hi_t is not None and vt1["V-slope"]["time_s"] > hi_t:
            vt1["V-slope"] = {"vo2_ml_min": None, "time_s": None, "fit": None}
    r = fit1(t[below], eqo2[below], c1, +1, n)
    if r:
        # VE/VCO2 must stay flat over the same span (else the rise is the RCP's, not VT1's)
        mm = below & flat_span & (t >= r[0]) & np.isfinite(eqco2)
        ok = True
        if mm.sum() >= 4:
            sl = np.polyfit(t[mm], eqco2[mm], 1)[0]
            ok = sl < 0.5 * r[1]
        if ok:
            at_t(vt1, "VE/VO2", r[0], {"kind": kind1, "rise_per_min": r[1] * 60})
    po2 = s.get("peto2_mmhg")
    if po2 is not None and np.isfinite(po2).sum() >= n:
        r = fit1(t[below], po2[below], c1, +1, n)
        if r:
            at_t(vt1, "PetO2", r[0], {"kind": kind1, "rise_per_min": r[1] * 60})
    exco2 = vco2 * _ratio(vco2, vo2) - vco2
    r = _hinge(t[below], exco2[below], c1, +1, n)
    if r:
        at_t(vt1, "ExCO2", r[0], {"kind": "broken line vs time", "rise_per_min": r[1] * 60})
    # second pass (Wasserman): between VT1 and VT2 VE/VCO2 and PetCO2 stay flat (isocapnic buffering),
    # so their flat-then-turning fits are redone on the data from VT1 on
    t1s = [m["time_s"] for m in vt1.values() if m["time_s"] is not None]
    if t1s and not stage_ends:  # (stage ends: the broken line of the first pass already allows the creep)
        t1 = float(np.median(t1s))
        above = t >= t1
        c2b = c2[c2 > t1 + BIN_S]
        r = fit2(t[above], eqco2[above], c2b, +1, n)
        vt2["VE/VCO2"] = {"vo2_ml_min": None, "time_s": None, "fit": None}
        if r:
            at_t(vt2, "VE/VCO2", r[0], {"kind": kind2.format("rising") + ", from VT1", "rise_per_min": r[1] * 60})
        if pco2 is not None and np.isfinite(pco2).sum() >= n:
            r = fit2(t[above], pco2[above], c2b, -1, n)
            vt2["PetCO2"] = {"vo2_ml_min": None, "time_s": None, "fit": None}
            if r:
                at_t(vt2, "PetCO2", r[0], {"kind": kind2.format("falling") + ", from VT1",
                                           "fall_per_min": -r[1] * 60})
    return vt1, vt2


# ----------------------------------------------------------------------------- consensus
@lru_cache(maxsize=4)
def _load_model(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            m = json.load(fh)
    except (OSError, ValueError):
        return None
    if not (isinstance(m, dict) and "vt1" in m and "vt2" in m):
        return None
    for part in (m["vt1"], m["vt2"]):
        _arrays_once(part)
    return m


# the kernel ridge's training rows and the trees' node arrays, as numpy arrays once when the file is read, not from
# nested lists on every analysis (combine's np.asarray of an array is free; a fitted dict passed in still works)
_ARRAYS = {"krr": {"train": float, "alpha": float},
           "trees": {"feature": np.int64, "threshold": float, "left": np.int64, "right": np.int64, "value": float}}


def _arrays_once(part) -> None:
    for key, fields in _ARRAYS.items():
        sub = part.get(key) if isinstance(part, dict) else None
        if not isinstance(sub, dict):
            continue
        for name, dtype in fields.items():
            try:
                sub[name] = np.asarray(sub[name], dtype)
            except (KeyError, TypeError, ValueError):
                pass  # left as it is: combine refuses it and the median of the methods stands


def shipped_model() -> dict | None:
    return _load_model(str(MODEL_PATH))


def features(methods: dict, vo2_peak: float, names, missing: str | None = None) -> list[float]:
    """Method results as fractions of VO2peak. A method that found nothing is NaN, or, with
    missing="median_found", the median of the methods that did find a break on this test: the
    training median (the other choice, filled in by `combine`) pulled a test whose found methods all
    agreed on a high VT1 back towards the population's typical one."""
    out = []
    for n in names:
        v = (methods.get(n) or {}).get("vo2_ml_min")
        out.append(float(v) / vo2_peak if (v is not None and vo2_peak) else float("nan"))
    if missing == "median_found":
        found = [x for x in out if math.isfinite(x)]
        if found:
            med = float(np.median(found))
            out = [x if math.isfinite(x) else med for x in out]
    return out


MARKER_SMOOTH_BINS = (6, 9, 12)  # 60-, 90- and 120-s running means of the 10-s bins (the fits' 30-s smoothing
                                 # leaves a minimum/maximum on one noisy bin; which one suits a test is not known)
VT2_MARKERS = tuple(f"{m} {10 * k} s" for k in MARKER_SMOOTH_BINS for m in ("VE/VCO2 nadir", "PetCO2 maximum"))


def _running_mean(y: np.ndarray, k: int) -> np.ndarray:
    """NaN-aware running mean over k points (centred as np.convolve 'same')."""
    ok = np.isfinite(y)
    c = np.convolve(np.where(ok, y, 0.0), np.ones(k), "same")
    n = np.convolve(ok.astype(float), np.ones(k), "same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return c / n


def vt2_markers(s: dict[str, np.ndarray], vo2_peak: float | None, vt1_methods: dict) -> list[float]:
    """Where the RCP's classic markers sit above VT1, as fractions of VO2peak (combiner features, not
    methods of their own): the lowest VE/VCO2 (it rises from there, Wasserman) and the highest PetCO2
    (it falls from there), both on the 60-s running mean, searched after the median time of the VT1
    methods and from 55 % of VO2peak on, each on 60-, 90- and 120-s running means (VT2_MARKERS order).
    NaN where there is nothing to search."""
    out = [float("nan")] * len(VT2_MARKERS)
    t = s.get("time_s")
    if t is None or t.size < 8 or not vo2_peak:
        return out
    frac = _smooth3(s["vo2_ml_min"]) / vo2_peak
    t1s = [m["time_s"] for m in vt1_methods.values() if m.get("time_s") is not None]
    t1 = float(np.median(t1s)) if t1s else float(t[0])
    m = (t > t1) & (t < t[-1] - BIN_S) & (frac >= BOUNDS["vt2"][0])
    if m.sum() <= 3:
        return out
    j = np.nonzero(m)[0]
    eq_all = _ratio(s["ve_l_min"] * 1000.0, s["vco2_ml_min"])
    p = s.get("petco2_mmhg")
    for i, k in enumerate(MARKER_SMOOTH_BINS):
        eq = _running_mean(eq_all, k)[j]
        pc = _running_mean(p, k)[j] if p is not None else np.full(j.size, np.nan)
        if np.isfinite(eq).any():
            out[2 * i] = float(frac[j[np.nanargmin(eq)]])
        if np.isfinite(pc).any():
            out[2 * i + 1] = float(frac[j[np.nanargmax(pc)]])
    return out


PROFILE_SIGNALS = ("VE/VO2", "VE/VCO2", "RER")
PROFILE_FRACTIONS = tuple(round(0.40 + 0.05 * i, 2) for i in range(13))  # 40 .. 100 % of VO2peak


def profile_features(s: dict[str, np.ndarray], vo2_peak: float | None) -> list[float]:
    """The curves an expert reads, sampled where VO2 reaches 40, 45, ... 100 % of VO2peak: VE/VO2 and
    VE/VCO2 relative to their lowest sampled value (0 = the nadir), RER as is. NaN where not reached."""
    n = len(PROFILE_SIGNALS) * len(PROFILE_FRACTIONS)
    t = s.get("time_s")
    if t is None or t.size < 5 or not vo2_peak:
        return [float("nan")] * n
    vo2, vco2, ve = s["vo2_ml_min"], s["vco2_ml_min"], s["ve_l_min"]
    x = _smooth3(vo2) / vo2_peak
    sig = {"VE/VO2": _ratio(ve * 1000.0, vo2), "VE/VCO2": _ratio(ve * 1000.0, vco2), "RER": _ratio(vco2, vo2)}
    fr = np.asarray(PROFILE_FRACTIONS)
    out: list[float] = []
    for name in PROFILE_SIGNALS:
        y = _smooth3(_smooth3(sig[name]))
        ok = np.isfinite(y) & np.isfinite(x)
        if ok.sum() < 5:
            out += [float("nan")] * fr.size
            continue
        o = np.argsort(x[ok], kind="stable")
        xv = np.maximum.accumulate(x[ok][o])
        v = np.interp(fr, xv, y[ok][o], left=np.nan, right=np.nan)
        if name != "RER":
            ref = np.nanmin(v) if np.isfinite(v).any() else np.nan
            v = v / ref - 1.0
        out += [float(z) for z in v]
    return out


def context_features(onset: str | None, start_vo2: float | None, vo2_peak: float | None) -> list[float]:
    """Features about how the test was run: none. Whether a baseline was found marks the clinical
    sub-sample of the labelled set, and VO2 at the phase's start marks its protocols (constant
    pre-ramp stages); both fitted a little better there (CV -8 and -4 mL/min) but would shift lab
    tests run otherwise, so the combiner reads only the methods and the curves."""
    return []


def combine(model_part: dict, x: list[float]) -> float | None:
    """Ridge prediction of the threshold as a fraction of VO2peak from feature vector x."""
    try:
        med = np.asarray(model_part["impute"], float)
        mu = np.asarray(model_part["mean"], float)
        sd = np.asarray(model_part["scale"], float)
        w = np.asarray(model_part["coef"], float)
        b = float(model_part["intercept"])
    except (KeyError, TypeError, ValueError):
        return None
    xv = np.asarray(x, float)
    if xv.shape != med.shape or w.shape != med.shape:
        return None
    xv = np.where(np.isfinite(xv), xv, med)
    z = (xv - mu) / sd
    f = float(b + z @ w)
    k = model_part.get("krr")
    if k is not None:
        # the ridge averaged with a kernel ridge (RBF) on the same standardised features
        try:
            Z = np.asarray(k["train"], float)
            a = np.asarray(k["alpha"], float)
            g, ym = float(k["gamma"]), float(k["y_mean"])
        except (KeyError, TypeError, ValueError):
            return None
        if Z.ndim != 2 or Z.shape != (a.size, z.size):
            return None
        kv = np.exp(-g * ((Z - z) ** 2).sum(1) / z.size)
        f = 0.5 * f + 0.5 * float(ym + kv @ a)
    trees = model_part.get("trees")
    if trees is not None:
        # averaged 50/50 with gradient-boosted trees on the same (imputed, unstandardised) features
        g = boosted_trees(trees, xv)
        if g is None:
            return None
        f = 0.5 * f + 0.5 * g
    return f


def boosted_trees(trees: dict, x: np.ndarray) -> float | None:
    """Prediction of gradient-boosted regression trees exported from scikit-learn as plain arrays
    (tools/vt_labelled._trees): init + learning_rate * sum of the leaves x falls into. A node is a leaf
    where `left` is -1; x goes left where x[feature] <= threshold, compared as scikit-learn compares
    (the feature value rounded to float32 first), so the engine reproduces the fitted model exactly."""
    try:
        feat = np.asarray(trees["feature"], np.int64)
        thr_ = np.asarray(trees["threshold"], float)
        left = np.asarray(trees["left"], np.int64)
        right = np.asarray(trees["right"], np.int64)
        value = np.asarray(trees["value"], float)
        init, rate, depth = float(trees["init"]), float(trees["learning_rate"]), int(trees["max_depth"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (feat.shape == thr_.shape == left.shape == right.shape == value.shape) or feat.ndim != 2:
        return None
    if feat.size and (feat.max() >= x.size or max(left.max(), right.max()) >= feat.shape[1]):
        return None
    x32 = x.astype(np.float32).astype(float)
    rows = np.arange(feat.shape[0])
    node = np.zeros(feat.shape[0], np.int64)
    for _ in range(depth):
        leaf = left[rows, node] < 0
        go_left = x32[np.maximum(feat[rows, node], 0)] <= thr_[rows, node]
        node = np.where(leaf, node, np.where(go_left, left[rows, node], right[rows, node]))
    return init + rate * float(value[rows, node].sum())


def consensus(name: str, methods: dict, vo2_peak: float | None, ctx: list[float],
              model: dict | None, profile: list[float] | None = None,
              markers: list[float] | None = None) -> dict:
    """{vo2_ml_min or None, confidence, method label, basis, in_bounds}."""
    vals = [m["vo2_ml_min"] for m in methods.values() if m.get("vo2_ml_min") is not None]
    out = {"vo2_ml_min": None, "confidence": 0.0, "method": None, "basis": None, "in_bounds": None}
    if len(vals) < 2 or not vo2_peak:
        # one method alone is never corroborated: undetermined rather than a guess
        out["basis"] = f"undetermined: {len(vals)} of {len(methods)} methods found a break"
        return out
    med = float(np.median(vals))
    spread = (max(vals) - min(vals)) / vo2_peak
    found = len(vals) / max(len(methods), 1)
    conf = found * max(0.0, 1.0 - spread / SPREAD_FOR_ZERO_CONFIDENCE)
    value, label, basis = med, "consensus", "median of the methods"
    lo, hi = BOUNDS[name]
    inb = lo <= med / vo2_peak <= hi
    part = (model or {}).get(name)
    if isinstance(part, dict) and isinstance(part.get("methods"), list):
        x = features(methods, vo2_peak, part["methods"], part.get("missing")) + list(ctx)
        if part.get("profile"):
            x += list(profile) if profile is not None else [float("nan")] * len(part["profile"])
        if part.get("markers"):
            x += list(markers) if markers is not None else [float("nan")] * len(part["markers"])
        f = combine(part, x)
        if f is not None and math.isfinite(f):
            # outside the bounds the estimate is held at the bound and its confidence is low
            inb = lo <= f <= hi
            value = float(min(max(f, lo), hi)) * vo2_peak
            label = "combined"
            kinds = ["ridge"] + ["kernel ridge"] * bool(part.get("krr")) + ["boosted trees"] * bool(part.get("trees"))
            kind = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
            basis = f"combiner {model.get('version')} ({kind} over the methods, cross-validated on labelled tests)"
    # (a model part that does not fit these methods is ignored: the median of the methods stands)
    if not inb:
        conf = min(conf, 0.2)
    out.update(vo2_ml_min=value, confidence=round(float(conf), 2), method=label, basis=basis, in_bounds=inb)
    return out


def at_time(series: dict[str, np.ndarray], tv: float | None) -> dict:
    """VO2, HR and load at time tv. With series["load_steps"] (a step test) the load is the stage's, the
    value in effect at tv, not a mix of two stages' loads where tv falls between a stage's last sample and
    the next stage's first."""
    t = series["time_s"]
    out = {"time_s": None if tv is None else float(tv)}
    for key in ("vo2_ml_min", "hr_bpm", "power_w", "speed_kmh"):
        y = series.get(key)
        if y is None or tv is None:
            out[key] = None
            continue
        ok = np.isfinite(y) & np.isfinite(t)
        if ok.sum() == 0 or tv < t[ok][0] - 1e-9 or tv > t[ok][-1] + 1e-9:
            out[key] = None
        elif key in ("power_w", "speed_kmh") and series.get("load_steps"):
            out[key] = float(y[ok][max(int(np.searchsorted(t[ok], tv + 1e-9, side="right")) - 1, 0)])
        else:
            out[key] = float(np.interp(tv, t[ok], y[ok]))
    return out


def at_vo2(series: dict[str, np.ndarray], vo2_value: float, window: tuple[float, float] | None = None) -> dict:
    """Time, HR, power and speed where the averaged VO2 first reaches vo2_value inside the window
    (the incremental phase): never a moment of the warm-up that happened to reach the same VO2."""
    t = series["time_s"]
    v = series["vo2_ml_min"]
    m = np.isfinite(v) & np.isfinite(t)
    if window is not None:
        m &= (t >= window[0]) & (t <= window[1])
    tv = _first_time(t[m], v[m], vo2_value) if m.any() else None
    if tv is None and m.any():
        tv = float(t[m][-1])
    return at_time(series, tv) | {"vo2_ml_min": float(vo2_value)}


def load_at_mrt(series: dict[str, np.ndarray], tv: float | None, ramp: bool) -> dict | None:
    """Load at the threshold time minus the VO2 mean response time (ramp tests only: on a ramp VO2 lags
    the work rate, so the load that elicits the threshold VO2 is the one MRT earlier; Keir et al. 2022)."""
    if tv is None or not ramp:
        return None
    row = at_time(series, tv - MRT_S)
    if row.get("power_w") is None and row.get("speed_kmh") is None:
        return None
    return {"power_w": row.get("power_w"), "speed_kmh": row.get("speed_kmh"), "mrt_s": MRT_S,
            "basis": f"load {MRT_S:g} s before the threshold time (VO2 mean response time, Keir et al. 2022)"}
