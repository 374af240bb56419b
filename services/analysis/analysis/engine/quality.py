"""Data-quality flags. Each flag: {code, severity ("info"|"warning"|"error"), message}."""
from __future__ import annotations

import numpy as np

MIN_EXERCISE_S = 300.0      # < 5 min of exercise: VO2 has not had time to rise to a true maximum
NOISE_CV = 0.15             # breath-to-breath VO2 scatter above 15 % of the signal is unusually noisy


def flag(flags: list, code: str, message: str, severity: str = "warning") -> None:
    if not any(f["code"] == code for f in flags):
        flags.append({"code": code, "severity": severity, "message": message})


def channel_flags(flags: list, cols: dict[str, np.ndarray]) -> None:
    for k in ("vo2_ml_min", "vco2_ml_min", "ve_l_min"):
        if np.isfinite(cols[k]).sum() == 0:
            flag(flags, f"missing_channel:{k}", f"channel {k} is missing", "error")
    for k, sev in (("hr_bpm", "warning"), ("petco2_mmhg", "info"), ("peto2_mmhg", "info")):
        if np.isfinite(cols[k]).sum() == 0:
            flag(flags, f"missing_channel:{k}", f"channel {k} is missing", sev)
    if np.isfinite(cols["power_w"]).sum() == 0 and np.isfinite(cols["speed_kmh"]).sum() == 0:
        flag(flags, "missing_channel:load", "no power or speed: protocol, zones in load units and norms unavailable")


def unit_flags(flags: list, t: np.ndarray, cols: dict[str, np.ndarray]) -> None:
    def med(k):
        v = cols[k]
        v = v[np.isfinite(v)]
        return float(np.median(v)) if v.size else None

    checks = [("vo2_ml_min", 50, 10000, "VO2 should be in mL/min (values look like L/min or another unit)"),
              ("vco2_ml_min", 50, 10000, "VCO2 should be in mL/min"),
              ("ve_l_min", 3, 300, "VE should be in L/min"),
              ("hr_bpm", 30, 230, "HR should be in beats/min"),
              ("rf_bpm", 3, 90, "breathing frequency should be in breaths/min"),
              ("petco2_mmhg", 10, 80, "PetCO2 should be in mmHg (kPa?)"),
              ("peto2_mmhg", 50, 150, "PetO2 should be in mmHg (kPa?)")]
    for k, lo, hi, msg in checks:
        m = med(k)
        if m is not None and not (lo <= m <= hi):
            flag(flags, f"units_suspicious:{k}", f"{msg}; median {m:.3g}")
    if t.size > 2:
        dt = np.diff(t)
        dt = dt[np.isfinite(dt)]
        if dt.size and np.median(dt) > 30:
            flag(flags, "units_suspicious:time_s", "median breath interval > 30 s: time may be in ms or data averaged")


def noise_flag(flags: list, vo2: np.ndarray) -> float | None:
    v = vo2[np.isfinite(vo2)]
    if v.size < 10:
        return None
    # scatter of each breath around its neighbours' mean, relative to the signal level
    r = v[1:-1] - 0.5 * (v[:-2] + v[2:])
    level = np.median(np.abs(v))
    if level <= 0:
        return None
    cv = float(1.4826 * np.median(np.abs(r - np.median(r))) / level)
    if cv > NOISE_CV:
        flag(flags, "noisy_signal", f"breath-to-breath VO2 scatter is {100 * cv:.0f} % of the signal")
    return cv
