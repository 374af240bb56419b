"""VO2max / VO2peak with plateau and secondary criteria.

Plateau per Niemeyer, Knaier & Beneke (2021, Sports Med 51:1815): the last rise of VO2 is
compared with the rise the submaximal VO2 response predicts, over a sampling interval long
enough for breath noise not to decide it, with a cut-off at 50 % of the expected rise.
 * Ramps: 60-s means; the expected rise is the slope of VO2 on time over the submaximal ramp
   only (from 1 min after the ramp's onset, which excludes warm-up data and the VO2 kinetics,
   to 2 min before the end) times 60 s; observed = last 60-s mean minus the 60-s mean before it.
   The end of exercise excludes a terminal collapse of VO2 (the athlete stepping off while the
   belt speed is still logged). "Not evaluable" when the noise of a difference of two 60-s means
   (from the scatter of 60-s means about the submaximal line) is as large as the expected rise.
 * Step tests: the last two full stages against the rise the submaximal VO2-load line predicts
   for their load difference. Taylor et al.'s (1955) fixed 150 mL/min is reported only where the
   increments make it meaningful (expected rise >= 300 mL/min, as in Taylor's protocol, so that
   150 mL/min is at most half of it).
Secondary criteria (RER, HR, lactate) are reported but do not confirm VO2max on their own:
they are reached at submaximal VO2 too (Poole et al. 2008).
"""
from __future__ import annotations

import math

import numpy as np

TAYLOR_ML_MIN = 150.0
TAYLOR_MIN_EXPECTED_ML_MIN = 300.0  # Taylor's increments raised VO2 by ~300 mL/min; below it 150 is no plateau test
PLATEAU_FRACTION = 0.5      # Niemeyer et al. 2021: ~50 % of the expected submaximal rise
MEAN_S = 60.0               # sampling interval of the ramp criterion
KINETICS_S = 60.0           # first minute of the ramp: VO2 still catching up with the load
COLLAPSE_FRACTION = 0.10    # a terminal fall of the 15-s mean by > 10 % of its peak is a dismount, not a plateau
COLLAPSE_WINDOW_S = 15
RER_MIN = 1.10
HR_FRACTION = 0.95
HR_WITHIN_BPM = 10.0
LACTATE_MIN = 8.0


def _moving_mean(y: np.ndarray, k: int) -> np.ndarray:
    """Centred k-point moving mean, NaN where the window is incomplete."""
    out = np.full(y.size, np.nan)
    if y.size < k or k < 1:
        return out
    c = np.concatenate([[0.0], np.cumsum(y)])
    vals = (c[k:] - c[:-k]) / k
    lo = (k - 1) // 2
    out[lo:lo + vals.size] = vals
    return out


def _one_second(t: np.ndarray, vo2: np.ndarray, a: float, b: float):
    ok = np.isfinite(t) & np.isfinite(vo2)
    t, vo2 = t[ok], vo2[ok]
    if t.size < 2:
        return np.array([]), np.array([])
    grid = np.arange(math.ceil(max(a, t[0])), math.floor(min(b, t[-1])) + 1.0)
    return grid, np.interp(grid, t, vo2)


def end_of_exercise(t: np.ndarray, vo2: np.ndarray, start: float, end: float) -> tuple[float, float]:
    """The end of exercise without a terminal collapse of VO2 (dismount, stopping while the
    load is still logged). Returns (end, seconds excluded)."""
    grid, y = _one_second(t, vo2, start, end)
    if grid.size < 4 * COLLAPSE_WINDOW_S:
        return end, 0.0
    m = _moving_mean(y, COLLAPSE_WINDOW_S)
    recent = grid >= grid[-1] - 180
    peak = np.nanmax(m[recent])
    last = m[np.isfinite(m)][-1]
    if not (peak > 0) or last >= (1 - COLLAPSE_FRACTION) * peak:
        return end, 0.0
    above = np.flatnonzero(recent & (m >= (1 - COLLAPSE_FRACTION) * peak))
    # the window centred on the last good second already holds half a window of the fall
    new_end = float(grid[above[-1]]) - COLLAPSE_WINDOW_S // 2
    return new_end, float(end - new_end)


def plateau_ramp(t: np.ndarray, vo2: np.ndarray, ramp_start: float | None, end: float,
                 onset_source: str = "protocol") -> dict:
    """Niemeyer et al. 2021 on a ramp: last 60-s rise vs the rise the submaximal ramp predicts."""
    res = {"method": "niemeyer_2021_ramp", "interval_s": MEAN_S, "cutoff_fraction": PLATEAU_FRACTION,
           "evaluable": False, "plateau": None, "observed_increase_ml_min": None,
           "expected_increase_ml_min": None, "noise_ml_min": None, "expected_slope_ml_min_s": None,
           "ramp_start_s": ramp_start, "onset_source": onset_source, "end_s": None, "dismount_excluded_s": 0.0,
           "submaximal_s": None}
    if ramp_start is None:
        res["reason"] = "ramp onset unknown: the expected rise cannot be taken from the submaximal ramp only"
        return res
    end_used, cut = end_of_exercise(t, vo2, ramp_start, end)
    res.update(end_s=end_used, dismount_excluded_s=cut)
    grid, y = _one_second(t, vo2, ramp_start, end_used)
    sub = (grid >= ramp_start + KINETICS_S) & (grid <= end_used - 2 * MEAN_S)
    tail = grid > end_used - MEAN_S
    before = (grid > end_used - 2 * MEAN_S) & ~tail
    if sub.sum() < 2 * MEAN_S or tail.sum() < 0.9 * MEAN_S or before.sum() < 0.9 * MEAN_S:
        res["reason"] = "the ramp is too short: it needs 2 min of submaximal ramp after its first minute, then 2 min"
        return res
    gs, ys = grid[sub], y[sub]
    b, a = np.polyfit(gs, ys, 1)
    k = int(MEAN_S)
    m60 = _moving_mean(ys, k)
    okm = np.isfinite(m60)
    resid = m60[okm] - (a + b * gs[okm])
    noise = float(math.sqrt(2.0) * np.std(resid, ddof=2)) if resid.size > 2 else float("nan")
    expected = float(b * MEAN_S)
    observed = float(y[tail].mean() - y[before].mean())
    res.update(expected_slope_ml_min_s=float(b), expected_increase_ml_min=expected,
               observed_increase_ml_min=observed, noise_ml_min=noise, submaximal_s=[float(gs[0]), float(gs[-1])])
    if not expected > 0:
        res["reason"] = "VO2 does not rise during the submaximal ramp"
        return res
    if not (noise < expected):
        res["reason"] = (f"noise of 60-s means ({noise:.0f} mL/min) is as large as the expected rise "
                         f"({expected:.0f} mL/min)")
        return res
    res.update(evaluable=True, plateau=bool(observed < PLATEAU_FRACTION * expected))
    return res


def plateau_steps(stages: list[dict], stage_length_s: float | None = None) -> dict:
    """Last two full stages against the rise the submaximal VO2-load line predicts."""
    res = {"method": "niemeyer_2021_steps", "cutoff_fraction": PLATEAU_FRACTION, "evaluable": False,
           "plateau": None, "delta_ml_min": None, "observed_increase_ml_min": None,
           "expected_increase_ml_min": None, "noise_ml_min": None, "stages_compared": None,
           "taylor_150": {"threshold_ml_min": TAYLOR_ML_MIN, "applicable": False, "plateau": None}}
    need = 0.9 * stage_length_s if stage_length_s else 55.0
    full = [s for s in stages if s.get("vo2_ml_min") is not None and s.get("load") is not None
            and s["duration_s"] >= need]
    if len(full) < 2:
        res["reason"] = "fewer than two full stages with VO2"
        return res
    a, b = full[-2], full[-1]
    d = float(b["vo2_ml_min"] - a["vo2_ml_min"])
    res.update(delta_ml_min=d, observed_increase_ml_min=d, stages_compared=[a["stage"], b["stage"]])
    sub = full[:-2]
    if len(sub) < 3:
        res["reason"] = "fewer than three full submaximal stages: the expected rise and its noise cannot be estimated"
        return res
    x = np.array([s["load"] for s in sub], float)
    y = np.array([s["vo2_ml_min"] for s in sub], float)
    if np.ptp(x) <= 0:
        res["reason"] = "the submaximal stages have one load"
        return res
    slope, icpt = np.polyfit(x, y, 1)
    resid = y - (icpt + slope * x)
    noise = float(math.sqrt(2.0) * math.sqrt(float((resid ** 2).sum()) / (x.size - 2)))
    expected = float(slope * (b["load"] - a["load"]))
    res.update(expected_increase_ml_min=expected, noise_ml_min=noise, expected_slope_ml_min_per_unit=float(slope))
    if expected >= TAYLOR_MIN_EXPECTED_ML_MIN:
        res["taylor_150"].update(applicable=True, plateau=bool(d < TAYLOR_ML_MIN))
    else:
        res["taylor_150"]["reason"] = (f"increments raise VO2 by {expected:.0f} mL/min (< "
                                       f"{TAYLOR_MIN_EXPECTED_ML_MIN:.0f}): 150 mL/min is not a plateau test here")
    if not expected > 0:
        res["reason"] = "VO2 does not rise with the load in the submaximal stages"
        return res
    if not (noise < expected):
        res["reason"] = f"stage-to-stage noise ({noise:.0f} mL/min) is as large as the expected rise ({expected:.0f} mL/min)"
        return res
    res.update(evaluable=True, plateau=bool(d < PLATEAU_FRACTION * expected))
    return res


def criteria(rer_max, hr_max, age, lactate_max) -> dict:
    out = {}
    out["rer_max"] = {"value": rer_max, "threshold": RER_MIN,
                      "pass": None if rer_max is None else bool(rer_max >= RER_MIN)}
    pred = None
    try:
        a = float(age)
        if np.isfinite(a) and 0 < a < 120:
            pred = 220.0 - a
    except (TypeError, ValueError):
        pass
    hr_pass = None
    if hr_max is not None and pred is not None:
        hr_pass = bool(hr_max >= HR_FRACTION * pred or hr_max >= pred - HR_WITHIN_BPM)
    out["hr_max"] = {"value": hr_max, "pass": hr_pass,
                     "rule": "HRmax >= 95 % of 220-age or within 10 bpm of it"}
    out["hr_pred_max"] = pred
    out["lactate_max"] = {"value": lactate_max, "threshold": LACTATE_MIN,
                          "pass": None if lactate_max is None else bool(lactate_max >= LACTATE_MIN)}
    evaluated = [c["pass"] for c in (out["rer_max"], out["hr_max"], out["lactate_max"]) if c["pass"] is not None]
    out["met"] = int(sum(evaluated))
    out["evaluated"] = len(evaluated)
    return out


def verdict(plateau: dict) -> tuple[str, str]:
    if plateau.get("plateau"):
        return "vo2max", "plateau"
    if plateau.get("evaluable"):
        return "vo2peak", "no plateau"
    return "vo2peak", "plateau not evaluable"
