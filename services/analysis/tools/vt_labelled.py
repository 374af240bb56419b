"""The Oxynet labelled tests (testdata/cpet/oxynet_labelled): loading, expert labels, scoring.

Shared by bench/thresholds.py, the accuracy gate (tests/engine/test_engine_vt_accuracy.py) and the
combiner's training script (tools/train_vt_combiner.py), so all three score the same way.

Label convention (the folder's README): VT1 = first time with domain 0, VT2 = first time with
domain 1; the VO2 at a threshold is the mean VO2_I over +-10 samples around that time (as the
Oxynet code takes it). Files are read through the product's own reader (formats.read_export), as
an upload would be.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]          # services/analysis
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.formats import read_export  # noqa: E402

DATA = ROOT.parents[1] / "testdata" / "cpet" / "oxynet_labelled"
PRIOR = {"vt1": 0.60, "vt2": 0.83}  # the trivial prior: fractions of VO2peak
WITHIN_ML = 150.0


def files(data: Path = DATA) -> list[Path]:
    def key(p: Path):
        kind, _, num = p.stem.rpartition("_")
        return kind, int(num) if num.isdigit() else 0
    return sorted(data.glob("*_real_test_*.csv"), key=key)


def _labels(path: Path) -> dict:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    t = np.array([float(r["time"]) for r in rows])
    vo2 = np.array([float(r["VO2_I"]) for r in rows])
    dom = np.array([int(float(r["domain"])) for r in rows])
    out = {}
    for name, d in (("vt1", 0), ("vt2", 1)):
        i = int(np.argmax(dom == d)) if (dom == d).any() else None
        if i is None:
            out[name] = None
            continue
        out[name] = {"time_s": float(t[i]), "vo2_ml_min": float(vo2[max(i - 10, 0): i + 11].mean())}
    return out


def load(path: Path) -> dict:
    """One labelled test: wire samples and athlete as an import would pass them, plus the labels."""
    parsed = read_export(path.read_bytes(), filename=path.name)
    wire = parsed.to_wire()
    meta = wire["metadata"]
    return {"name": path.stem, "kind": "ramp" if path.stem.startswith("ramp") else "rest",
            "samples": wire["samples"],
            "athlete": {"body_mass_kg": meta.get("body_mass_kg"), "age": meta.get("age_years"),
                        "sex": meta.get("sex")},
            "labels": _labels(path)}


def load_all(data: Path = DATA) -> list[dict]:
    return [load(p) for p in files(data)]


def first_crossing(t: np.ndarray, vo2_smooth: np.ndarray, value: float) -> float | None:
    i = np.nonzero(vo2_smooth >= value)[0]
    return float(t[i[0]]) if i.size else None


def prior_row(test: dict, result: dict) -> dict:
    """The trivial prior on the same test: VT1 = 60 %, VT2 = 83 % of the engine's VO2peak; its time is
    the first moment the +-10-s mean VO2 reaches that value (the labels' own smoothing)."""
    peak = (result.get("vo2max") or {}).get("vo2_ml_min")
    t = np.array([np.nan if v is None else v for v in test["samples"]["time_s"]], float)
    v = np.array([np.nan if x is None else x for x in test["samples"]["vo2_ml_min"]], float)
    sm = np.convolve(np.nan_to_num(v), np.ones(21) / 21, mode="same")
    out = {}
    for name, f in PRIOR.items():
        if peak is None:
            out[name] = None
            continue
        val = f * peak
        out[name] = {"vo2_ml_min": val, "time_s": first_crossing(t, sm, val)}
    return out


def engine_row(result: dict) -> dict:
    out = {}
    for name in ("vt1", "vt2"):
        r = result.get(name)
        out[name] = None if not r or r.get("vo2_ml_min") is None else {
            "vo2_ml_min": r["vo2_ml_min"], "time_s": r.get("time_s")}
    return out


def score(tests: list[dict], rows: list[dict]) -> dict:
    """MAE (mL/min and s), share within +-150 mL/min and count undetermined, per threshold.
    Undetermined tests are left out of the MAE and counted apart."""
    out = {}
    for name in ("vt1", "vt2"):
        dv, dt, und = [], [], 0
        for test, row in zip(tests, rows):
            lab, est = test["labels"][name], row.get(name)
            if lab is None:
                continue
            if est is None or est.get("vo2_ml_min") is None:
                und += 1
                continue
            dv.append(abs(est["vo2_ml_min"] - lab["vo2_ml_min"]))
            if est.get("time_s") is not None:
                dt.append(abs(est["time_s"] - lab["time_s"]))
        dv = np.array(dv)
        out[name] = {"n": int(dv.size + und), "mae_ml": float(dv.mean()) if dv.size else float("nan"),
                     "mae_s": float(np.mean(dt)) if dt else float("nan"),
                     "within150": float((dv <= WITHIN_ML).mean()) if dv.size else float("nan"),
                     "undetermined": und}
    return out
