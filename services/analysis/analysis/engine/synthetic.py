"""Synthetic breath-by-breath tests with known physiology, for tests and the benchmark.

The truth (VO2max, VT1, VT2 in VO2 units) is returned with the samples so that tests check
the engine against the values the data were built from, not against hard-coded output.
"""
from __future__ import annotations

import numpy as np


def _physiology(vo2, vt1, vt2, rng, common, indep=0.01):
    """VCO2, VE, PetCO2, PetO2 from VO2 with a V-slope break at vt1 and an RCP at vt2.

    Breath-to-breath noise is mostly a common factor (tidal volume / lung-volume changes move
    VO2, VCO2 and VE together) plus a small independent part."""
    s1, s2 = 0.90, 1.35
    vco2 = np.where(vo2 < vt1, 200 + s1 * vo2, 200 + s1 * vt1 + s2 * (vo2 - vt1))
    vco2_vt2 = 200 + s1 * vt1 + s2 * (vt2 - vt1)
    ve = np.where(vco2 < vco2_vt2, 4 + 0.024 * vco2, 4 + 0.024 * vco2_vt2 + 0.045 * (vco2 - vco2_vt2))
    petco2 = np.where(vo2 < vt2, 36 + 6 * (vo2 - vo2.min()) / max(vt2 - vo2.min(), 1), 42 - 0.004 * (vo2 - vt2))
    peto2 = np.where(vo2 < vt1, 104 - 4 * (vo2 - vo2.min()) / max(vt1 - vo2.min(), 1), 100 + 0.006 * (vo2 - vt1))
    k = lambda x: x * (1 + common + rng.normal(0, indep, x.size))
    return k(vco2), k(ve), petco2 + rng.normal(0, 0.5, vo2.size), peto2 + rng.normal(0, 0.5, vo2.size)


def ramp_test(seed: int = 0, n_breaths: int | None = None, rest_s: float = 120.0, ramp_w_min: float = 25.0,
              start_w: float = 50.0, ramp_s: float = 720.0, recovery_s: float = 60.0, vo2max: float = 4000.0,
              vt1: float = 2300.0, vt2: float = 3300.0, noise: float = 0.05, plateau_s: float = 60.0,
              body_mass_kg: float = 70.0):
    """Cycling ramp: rest at 0 W, ramp from start_w, VO2 plateaus `plateau_s` before the end."""
    rng = np.random.default_rng(seed)
    total = rest_s + ramp_s + recovery_s
    if n_breaths is None:
        n_breaths = int(total / 2.2)
    t = np.sort(rng.uniform(0, total, n_breaths)) + 0.5
    t = np.unique(np.round(t, 3))
    ramp_t = np.clip(t - rest_s, 0, ramp_s)
    power = np.where(t < rest_s, 0.0, np.where(t <= rest_s + ramp_s, start_w + ramp_w_min * ramp_t / 60.0, 30.0))
    power = np.round(power)
    rest_vo2 = 400.0
    # linear VO2-power relation with a ~45-s delay, capped at VO2max (the plateau)
    p_lag = np.where(t < rest_s + 45, 0.0, start_w + ramp_w_min * np.clip(t - rest_s - 45, 0, ramp_s) / 60.0)
    gain = (vo2max - rest_vo2 - 500) / (start_w + ramp_w_min * (ramp_s - plateau_s - 45) / 60.0)
    vo2_true = np.where(t < rest_s, rest_vo2, np.minimum(rest_vo2 + 500 + gain * p_lag, vo2max))
    rec = t > rest_s + ramp_s
    vo2_true = np.where(rec, vo2max * np.exp(-(t - rest_s - ramp_s) / 60.0) + rest_vo2, vo2_true)
    common = rng.normal(0, noise, t.size)
    vo2 = vo2_true * (1 + common + rng.normal(0, 0.01, t.size))
    vco2, ve, petco2, peto2 = _physiology(vo2_true, vt1, vt2, rng, common)
    hr = 60 + 130 * (vo2_true - rest_vo2) / (vo2max - rest_vo2) + rng.normal(0, 1.5, t.size)
    rf = 15 + 35 * (vo2_true - rest_vo2) / (vo2max - rest_vo2)
    samples = {"time_s": t.tolist(), "vo2_ml_min": vo2.tolist(), "vco2_ml_min": vco2.tolist(),
               "ve_l_min": ve.tolist(), "hr_bpm": hr.tolist(), "rf_bpm": rf.tolist(),
               "vt_l": (ve / rf).tolist(), "peto2_mmhg": peto2.tolist(), "petco2_mmhg": petco2.tolist(),
               "power_w": power.tolist(), "speed_kmh": None, "grade_pct": None}
    truth = {"vo2max": vo2max, "vt1": vt1, "vt2": vt2, "rest_s": rest_s, "ramp_s": ramp_s,
             "ramp_w_min": ramp_w_min, "start_w": start_w, "body_mass_kg": body_mass_kg}
    return samples, truth


def step_test(seed: int = 0, start: float = 8.0, inc: float = 1.0, n_stages: int = 8, stage_s: float = 180.0,
              rest_s: float = 60.0, vo2_per_unit: float = 210.0, vo2max: float = 3900.0, noise: float = 0.04,
              vt1: float = 2400.0, vt2: float = 3300.0, speed: bool = True):
    """Treadmill (speed, km/h) or cycling step test with steady stages (VO2 reaches steady state
    with a 30-s time constant), last stage capped at VO2max."""
    rng = np.random.default_rng(seed)
    total = rest_s + n_stages * stage_s
    t = np.arange(1.0, total, 2.0) + rng.uniform(-0.3, 0.3, int(np.ceil((total - 1) / 2.0)))
    t = np.unique(np.round(t, 3))
    stage = np.floor((t - rest_s) / stage_s).astype(int)
    load = np.where(t < rest_s, 0.0, start + inc * np.clip(stage, 0, n_stages - 1))
    target = np.where(t < rest_s, 450.0, np.minimum(vo2_per_unit * load, vo2max))
    tin = np.where(t < rest_s, t, (t - rest_s) % stage_s)
    prev = np.where(stage <= 0, 450.0, np.minimum(vo2_per_unit * (load - inc), vo2max))
    vo2_true = np.where(t < rest_s, 450.0, target + (prev - target) * np.exp(-tin / 30.0))
    common = rng.normal(0, noise, t.size)
    vo2 = vo2_true * (1 + common + rng.normal(0, 0.01, t.size))
    vco2, ve, petco2, peto2 = _physiology(vo2_true, vt1, vt2, rng, common)
    hr = 65 + 125 * (vo2_true - 450) / (vo2max - 450) + rng.normal(0, 1.0, t.size)
    samples = {"time_s": t.tolist(), "vo2_ml_min": vo2.tolist(), "vco2_ml_min": vco2.tolist(),
               "ve_l_min": ve.tolist(), "hr_bpm": hr.tolist(), "rf_bpm": None, "vt_l": None,
               "peto2_mmhg": peto2.tolist(), "petco2_mmhg": petco2.tolist(),
               "power_w": None if speed else load.tolist(), "speed_kmh": load.tolist() if speed else None,
               "grade_pct": None}
    truth = {"vo2max": vo2max, "vt1": vt1, "vt2": vt2, "start": start, "inc": inc, "stage_s": stage_s,
             "n_stages": n_stages, "rest_s": rest_s, "vo2_per_unit": vo2_per_unit}
    return samples, truth
