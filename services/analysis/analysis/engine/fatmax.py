"""Substrate oxidation per stage and maximal fat oxidation (FATmax).

Frayn 1983 (protein oxidation neglected), VO2 and VCO2 in L/min:
    fat g/min = 1.67 VO2 - 1.67 VCO2        CHO g/min = 4.55 VCO2 - 3.21 VO2
Valid only in steady state and while VCO2 is metabolic: above RER 1.0 bicarbonate buffering
adds CO2, so fat reads too low (here 0) and CHO too high (an upper bound). Only step protocols
with steady stages qualify; a ramp never reaches steady state.
"""
from __future__ import annotations

MIN_STEADY_STAGE_S = 120.0


def compute(kind: str, stages: list[dict], vo2max_ml_min: float | None) -> dict:
    out = {"available": False, "reason": None, "method": "Frayn 1983 (non-protein)", "stages": [],
           "mfo_g_min": None, "fatmax": None}
    if kind != "steps":
        out["reason"] = f"protocol is '{kind}': FATmax needs a step protocol with steady-state stages"
        return out
    rows = []
    for s in stages:
        vo2, vco2 = s.get("vo2_ml_min"), s.get("vco2_ml_min")
        if vo2 is None or vco2 is None or vo2 <= 0:
            continue
        v, c = vo2 / 1000.0, vco2 / 1000.0
        rer = c / v
        fat = 1.67 * v - 1.67 * c
        cho = 4.55 * c - 3.21 * v
        valid = rer <= 1.0
        rows.append({"stage": s["stage"], "load": s["load"], "hr_bpm": s.get("hr_bpm"), "vo2_ml_min": vo2,
                     "vo2_pct_max": (100.0 * vo2 / vo2max_ml_min) if vo2max_ml_min else None,
                     "rer": rer, "fat_g_min": max(fat, 0.0), "cho_g_min": max(cho, 0.0),
                     "valid": valid, "steady_state": s["duration_s"] >= MIN_STEADY_STAGE_S,
                     "note": None if valid else "RER > 1.0: non-metabolic CO2; CHO is an upper bound, fat invalid"})
    out["stages"] = rows
    ok = [r for r in rows if r["valid"] and r["steady_state"]]
    if not ok:
        out["reason"] = "no steady stage (>= 2 min) with RER <= 1.0"
        return out
    best = max(ok, key=lambda r: r["fat_g_min"])
    out.update(available=True, mfo_g_min=best["fat_g_min"],
               fatmax={"stage": best["stage"], "load": best["load"], "hr_bpm": best["hr_bpm"],
                       "vo2_ml_min": best["vo2_ml_min"], "vo2_pct_max": best["vo2_pct_max"]})
    if any(not r["steady_state"] for r in rows):
        out["reason"] = "stages shorter than 2 min were left out (no steady state)"
    return out
