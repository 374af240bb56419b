"""Report inputs from the repository's reference tests, computed by the analysis engine (services/analysis on
sys.path). Where the engine cannot be imported, a synthetic ramp test made here stands in (and says so)."""
from __future__ import annotations

import datetime as dt
import math
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ZAN_RAMP = REPO / "testdata" / "cpet" / "spiro" / "zan_ramp"
HR_TCX = REPO / "testdata" / "cpet" / "spiro" / "hr_ramp.tcx"
LACTATE_CSV = REPO / "testdata" / "lactate" / "lactate_thresholds_cycling1.csv"

if str(REPO / "services" / "analysis") not in sys.path:
    sys.path.insert(0, str(REPO / "services" / "analysis"))

try:
    from analysis.engine import analyze_cpet, analyze_lactate
    from analysis.engine.synthetic import step_test
    from analysis.formats import merge_heart_rate, read_export
    ENGINE = True
except ImportError:  # the engine is developed in parallel; the renderer must not depend on it being there
    ENGINE = False


def _jsonable(values):
    out = []
    for v in (values.tolist() if hasattr(values, "tolist") else list(values)):
        out.append(None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v)
    return out


def zan_ramp() -> dict:
    """{athlete, test, result, samples} of the ZAN ramp test (running, HR from the TCX track)."""
    athlete = {"id": "7b1c3a52-5f0e-4d7e-9a51-1f0c2b4e8d11", "first_name": "Иван", "last_name": "Петров",
               "sex": "male", "birth_date": "1998-10-04", "height_cm": 180.0, "body_mass_kg": 66.0,
               "sport": "бег", "user_id": None}
    test = {"id": "0f4b6c1e-2d3a-4b5c-8d9e-0a1b2c3d4e5f", "athlete": athlete["id"], "date": "2024-05-02",
            "modality": "running", "protocol": "ramp", "device": "ZAN 600 (nSpire)", "temperature_c": 21.5,
            "humidity_pct": 40.0, "pressure_hpa": 1012.0}
    if ENGINE:
        parsed = read_export(ZAN_RAMP.read_bytes(), "zan_ramp")
        parsed = merge_heart_rate(parsed, HR_TCX.read_bytes())
        samples = {k: _jsonable(v) for k, v in parsed.samples.items()}
        result = analyze_cpet(parsed.samples, {"sex": "male", "age": 25, "body_mass_kg": 66.0})
    else:
        samples, result = synthetic_ramp()
    return {"athlete": athlete, "test": test, "result": result, "samples": samples}


def step_with_lactate() -> dict:
    """A cycling step test (engine's synthetic generator) with the lactate steps of a reference CSV."""
    import csv

    rows = list(csv.DictReader(LACTATE_CSV.open()))
    steps = [{"intensity": float(r["intensity"]), "lactate": float(r["lactate_4"]),
              "heart_rate": float(r["heart_rate"]), "length": float(r["length"])} for r in rows]
    athlete = {"first_name": "Anna", "last_name": "Smith", "sex": "female", "birth_date": "1990-02-01",
               "body_mass_kg": 60.0, "height_cm": 168.0, "sport": "cycling"}
    if ENGINE:
        samples, _ = step_test(seed=1, start=100, inc=40, speed=False, n_stages=6)
        result = analyze_cpet(samples, {"sex": "female", "age": 34, "body_mass_kg": 60.0})
        lactate = analyze_lactate(steps)
    else:
        samples, result = synthetic_ramp()
        lactate = {"thresholds": [{"method": "OBLA 4.0", "intensity": 276.3, "lactate": 4.0, "heart_rate": 182}]}
    return {"athlete": athlete, "test": {"date": "2024-06-01", "modality": "cycling"}, "result": result,
            "samples": samples, "lactate_steps": steps, "lactate_result": lactate}


def synthetic_ramp(seed: int = 3):
    """A cycling ramp with known thresholds and a result in the engine's shape (used only without the engine)."""
    rnd = random.Random(seed)
    t, vo2, vco2, ve, hr, power = [], [], [], [], [], []
    time_s = 0.0
    while time_s < 840:
        load = 0.0 if time_s < 120 else 50 + 25 * (time_s - 120) / 60
        v = 450 if time_s < 120 else min(450 + 11.5 * load, 4000)
        n = 1 + rnd.gauss(0, 0.04)
        t.append(round(time_s, 2))
        vo2.append(v * n)
        vco2.append((v * 0.9 if v < 2300 else 2070 + 1.35 * (v - 2300)) * n)
        ve.append((12 + 0.024 * vco2[-1]) * n)
        hr.append(60 + 130 * (v - 450) / 3550)
        power.append(round(load))
        time_s += 2.2
    samples = {"time_s": t, "vo2_ml_min": vo2, "vco2_ml_min": vco2, "ve_l_min": ve, "hr_bpm": hr, "power_w": power}
    thr = {"time_s": 400.0, "vo2_ml_min": 2300.0, "vo2_pct_max": 57.5, "hr_bpm": 134.0, "power_w": 167.0,
           "speed_kmh": None, "method": "consensus", "confidence": 0.9, "manual": False,
           "methods": [{"method": "V-slope", "time_s": 400.0, "vo2_ml_min": 2300.0, "hr_bpm": 134.0,
                        "power_w": 167.0}]}
    result = {"engine_version": "synthetic", "averaging": {"method": "time", "seconds": 30, "outlier_sd": 4.0},
              "vo2max": {"vo2_ml_min": 4000.0, "vo2_ml_kg_min": 57.1, "verdict": "vo2max", "percentile": 71.0,
                         "norm_source": "synthetic"},
              "peak": {"rer": 1.15, "hr_bpm": 190.0, "power_w": 340.0, "ve_l_min": 150.0},
              "vt1": thr, "vt2": {**thr, "time_s": 600.0, "vo2_ml_min": 3300.0, "hr_bpm": 167.0, "power_w": 250.0},
              "zones": {"three_zone": [{"name": "Zone 1 (below VT1)", "hr_bpm": [60, 134], "power_w": [50, 167]}]}}
    return samples, result


def report_data(payload: dict, **extra):
    from reports.rendering import AthleteInfo, ReportData, TestInfo

    return ReportData(athlete=AthleteInfo.from_dict(payload["athlete"]), test=TestInfo.from_dict(payload["test"]),
                      result=payload["result"], samples=payload["samples"],
                      lactate_steps=payload.get("lactate_steps"), lactate_result=payload.get("lactate_result"),
                      generated_at=dt.datetime(2024, 5, 3, tzinfo=dt.timezone.utc), **extra)
