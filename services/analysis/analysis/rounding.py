"""Numbers as precise as they mean something, applied once to every answer at the API boundary (so the stored
result, its CSV and the PDF built from it agree); the engine itself computes unrounded.

VO2 and VCO2 1 mL/min, mL/kg/min 0.1, HR 1 bpm, times 1 s, power 1 W, speed 0.1 km/h, VE 0.1 L/min, RER 0.01,
percentages 0.1, confidences and correlations 0.01; any other number to 4 significant digits.
"""
from __future__ import annotations

import math
from typing import Any

SIGNIFICANT = 4
_EXACT = {  # key -> decimals
    "rer": 2, "confidence": 2, "correlation": 2, "coverage": 3, "vo2_noise_cv": 3, "lactate": 2,
    "intensity": 1, "heart_rate": 0, "load": 1, "load_kuipers": 1, "start": 1, "increment": 1,
    "body_mass_kg": 1, "age_years": 0, "age": 0, "percentile": 0, "fat_g_min": 3, "cho_g_min": 3,
}
_SUFFIX = (  # (key ending, decimals), first match wins
    ("ml_kg_min", 1), ("_ml_min", 0), ("_bpm", 0), ("_s", 0), ("_w", 0), ("_kmh", 1), ("_l_min", 1),
    ("_pct", 1), ("_pct_max", 1), ("_mmhg", 1), ("_l", 2), ("_kg", 1),
)


def decimals_for(key: str | None) -> int | None:
    if key is None:
        return None
    if key in _EXACT:
        return _EXACT[key]
    for end, d in _SUFFIX:
        if key.endswith(end):
            return d
    return None


def _round(v: float, d: int | None) -> float | int:
    if not math.isfinite(v):
        return v
    if d is None:
        if v == 0:
            return 0.0
        d = max(SIGNIFICANT - 1 - int(math.floor(math.log10(abs(v)))), 0)
    r = round(v, d)
    return int(r) if d == 0 else r


def round_result(obj: Any, key: str | None = None) -> Any:
    """A copy of the JSON-safe `obj` with every float rounded for its key (list items take their list's key)."""
    if isinstance(obj, dict):
        return {k: round_result(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [round_result(v, key) for v in obj]
    if isinstance(obj, float):
        return _round(obj, decimals_for(key))
    return obj
