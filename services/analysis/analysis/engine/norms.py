"""FRIEND reference percentiles for VO2max (see data/README.md for sources)."""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np

_DATA = Path(__file__).with_name("data")
TREADMILL_SOURCE = ("FRIEND treadmill 2015 (Kaminsky, Arena & Myers, Mayo Clin Proc 90(11):1515-1523, "
                    "doi:10.1016/j.mayocp.2015.07.026)")
CYCLE_SOURCE = ("FRIEND cycle ergometer 2017 (Kaminsky, Imboden, Arena & Myers, Mayo Clin Proc 92(2):228-233, "
                "doi:10.1016/j.mayocp.2016.10.003)")
# Cycle VO2max runs 10-20 % below treadmill: each modality has its own table, never the other's.
TABLES = {"treadmill": ("friend2015_treadmill.csv", TREADMILL_SOURCE), "cycle": ("friend2017_cycle.csv", CYCLE_SOURCE)}
_ANCHORS = (10.0, 25.0, 50.0, 75.0, 90.0)


@lru_cache(maxsize=2)
def _table(modality: str):
    rows = []
    with open(_DATA / TABLES[modality][0], newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append((r["sex"], int(r["age_from"]), int(r["age_to"]),
                         tuple(float(r[k]) for k in ("p10", "p25", "p50", "p75", "p90"))))
    return rows


def _sex(s):
    s = str(s or "").strip().lower()
    if s in ("m", "male", "man", "mann", "männlich", "1"):
        return "male"
    if s in ("f", "female", "w", "woman", "weiblich", "2"):
        return "female"
    return None


def percentile(vo2_rel: float | None, age, sex, modality: str | None) -> dict:
    """{percentile, percentile_band, norm_source}. percentile is interpolated linearly between the
    published anchors (10th..90th); outside them only the band ("<10" or ">90") is known."""
    out = {"percentile": None, "percentile_band": None, "norm_source": None}
    if modality not in TABLES:
        out["norm_source"] = "test modality unknown (no speed or power channel): no norm applied"
        return out
    source = TABLES[modality][1]
    sx = _sex(sex)
    try:
        a = float(age)
    except (TypeError, ValueError):
        a = float("nan")
    if vo2_rel is None or not np.isfinite(vo2_rel) or sx is None or not np.isfinite(a):
        out["norm_source"] = source + "; not applied: needs VO2 per kg, age and sex"
        return out
    row = next((r for r in _table(modality) if r[0] == sx and r[1] <= int(a) <= r[2]), None)
    if row is None:
        out["norm_source"] = source + "; not applied: age outside 20-79 years"
        return out
    vals = row[3]
    out["norm_source"] = source + f"; {sx}, {row[1]}-{row[2]} y"
    if vo2_rel < vals[0]:
        out["percentile_band"] = "<10"
    elif vo2_rel > vals[-1]:
        out["percentile_band"] = ">90"
    else:
        p = float(np.interp(vo2_rel, vals, _ANCHORS))
        out["percentile"] = round(p, 1)
        i = int(np.searchsorted(vals, vo2_rel, side="right"))
        i = min(max(i, 1), len(vals) - 1)
        out["percentile_band"] = f"{int(_ANCHORS[i - 1])}-{int(_ANCHORS[i])}"
    return out
