"""VO2max / VO2peak with plateau and secondary criteria.

Verdict: "vo2max" only when a plateau is shown (Taylor 1955 for step tests; for ramps the
increase over the final 30 s is < 50 % of the increase expected from the submaximal
VO2-time slope). Secondary criteria (RER, HR, lactate) are reported but do not confirm
VO2max on their own: they are reached at submaximal VO2 too (Poole et al. 2008).
"""
from __future__ import annotations

import math

import numpy as np

TAYLOR_ML_MIN = 150.0
RER_MIN = 1.10
HR_FRACTION = 0.95
HR_WITHIN_BPM = 10.0
LACTATE_MIN = 8.0
RAMP_TAIL_S = 30.0


def plateau_steps(stages: list[dict]) -> dict:
    usable = [s for s in stages if s.get("vo2_ml_min") is not None and s["duration_s"] >= 30]
    res = {"method": "taylor_150", "threshold_ml_min": TAYLOR_ML_MIN, "evaluable": False,
           "plateau": None, "delta_ml_min": None, "stages_compared": None}
    if len(usable) < 2:
        res["reason"] = "fewer than two stages with VO2"
        return res
    a, b = usable[-2], usable[-1]
    d = b["vo2_ml_min"] - a["vo2_ml_min"]
    res.update(evaluable=True, delta_ml_min=float(d), plateau=bool(d < TAYLOR_ML_MIN),
               stages_compared=[a["stage"], b["stage"]])
    return res


def plateau_ramp(t: np.ndarray, vo2: np.ndarray, ramp_start: float, end: float) -> dict:
    """Slope of breath VO2 over the last 30 s vs the submaximal slope of the ramp."""
    res = {"method": "ramp_slope_last_30s", "evaluable": False, "plateau": None,
           "slope_last_ml_min_s": None, "expected_slope_ml_min_s": None,
           "observed_increase_ml_min": None, "expected_increase_ml_min": None,
           "slope_significant_gt_0": None, "p_value": None}
    ok = np.isfinite(t) & np.isfinite(vo2)
    t, vo2 = t[ok], vo2[ok]
    tail = (t > end - RAMP_TAIL_S) & (t <= end)
    # submaximal part: skip the first minute (VO2 kinetics) and the last 90 s (possible plateau)
    sub = (t >= ramp_start + 60) & (t <= end - 90)
    if tail.sum() < 5 or sub.sum() < 10 or np.ptp(t[tail]) <= 0 or np.ptp(t[sub]) <= 0:
        res["reason"] = "not enough breaths in the final 30 s or in the submaximal ramp"
        return res
    lr = _ols(t[tail], vo2[tail])
    exp_slope = float(np.polyfit(t[sub], vo2[sub], 1)[0])
    obs = float(lr.slope) * RAMP_TAIL_S
    expd = exp_slope * RAMP_TAIL_S
    p_one = float(lr.pvalue / 2 if lr.slope > 0 else 1 - lr.pvalue / 2) if np.isfinite(lr.pvalue) else None
    res.update(evaluable=expd > 0, slope_last_ml_min_s=float(lr.slope), expected_slope_ml_min_s=exp_slope,
               observed_increase_ml_min=obs, expected_increase_ml_min=expd,
               p_value=p_one, slope_significant_gt_0=(p_one is not None and p_one < 0.05))
    if expd > 0:
        res["plateau"] = bool(obs < 0.5 * expd)
    else:
        res["reason"] = "VO2 does not rise during the ramp"
    return res


class _Fit:
    def __init__(self, slope, pvalue):
        self.slope, self.pvalue = slope, pvalue


def _ols(x, y):
    """Slope and two-sided p-value of the slope (as scipy.stats.linregress, without its overhead)."""
    from scipy.special import stdtr
    n = x.size
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    b = float(((x - xm) * (y - ym)).sum()) / sxx
    resid = y - ym - b * (x - xm)
    df = n - 2
    se = math.sqrt(float((resid ** 2).sum()) / df / sxx) if df > 0 else float("nan")
    if se > 0:
        p = float(2 * stdtr(df, -abs(b / se)))
    else:
        p = 0.0 if b != 0 else 1.0
    return _Fit(b, p)


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
