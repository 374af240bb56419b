"""Regenerates the stored reference inputs of reports' tests (zan_ramp.json, step_with_lactate.json) from files in
testdata/, read and analysed by the analysis service's own readers and engine.

    cd services/reports && ../../.venv/bin/python tests/data/regenerate.py

This developer tool is the only place that runs analysis code for reports, and the tests never run it: they read
the JSON it wrote, so a change in the analysis engine reaches reports' tests only when someone regenerates on
purpose (and sees the diff). Each file records the engine version and the source files it came from.
"""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
TESTDATA = REPO / "testdata"
ZAN_RAMP = TESTDATA / "cpet" / "spiro" / "zan_ramp"
HR_TCX = TESTDATA / "cpet" / "spiro" / "hr_ramp.tcx"
LACTATE_CSV = TESTDATA / "lactate" / "lactate_thresholds_cycling1.csv"

# The analysis engine runs in its own process with its own folder on the path, never inside reports.
ANALYSE = r"""
import json, math, sys
from analysis.engine import ENGINE_VERSION, analyze_cpet, analyze_lactate
from analysis.formats import merge_heart_rate, read_export

job = json.load(sys.stdin)

def columns(samples):
    out = {}
    for name, values in samples.items():
        if values is None:
            continue
        values = values.tolist() if hasattr(values, "tolist") else list(values)
        out[name] = [None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v for v in values]
    return out

if job.get("lactate_only"):
    json.dump({"engine_version": ENGINE_VERSION, "lactate_result": analyze_lactate(job["lactate_steps"])},
              sys.stdout, allow_nan=False)
    sys.exit(0)
if job.get("file"):
    samples = read_export(open(job["file"], "rb").read(), job["file"].rsplit("/", 1)[-1])
    if job.get("hr_file"):
        samples = merge_heart_rate(samples, open(job["hr_file"], "rb").read())
    samples = samples.samples
else:  # the engine's own step-test generator (see step_with_lactate)
    from analysis.engine.synthetic import step_test
    samples, _ = step_test(**job["synthetic_step_test"])
answer = {"engine_version": ENGINE_VERSION, "samples": columns(samples),
          "result": analyze_cpet(samples, job["athlete"])}
if job.get("lactate_steps"):
    answer["lactate_result"] = analyze_lactate(job["lactate_steps"])
json.dump(answer, sys.stdout, allow_nan=False)
"""


def analyse(file: Path | None, athlete: dict, *, hr_file: Path | None = None, lactate_steps: list | None = None,
            synthetic_step_test: dict | None = None, lactate_only: bool = False) -> dict:
    job = {"file": str(file) if file else None, "hr_file": str(hr_file) if hr_file else None, "athlete": athlete,
           "lactate_steps": lactate_steps, "synthetic_step_test": synthetic_step_test, "lactate_only": lactate_only}
    done = subprocess.run([sys.executable, "-c", ANALYSE], input=json.dumps(job), capture_output=True, text=True,
                          cwd=REPO / "services" / "analysis", check=False)
    if done.returncode:
        raise SystemExit(f"the analysis of {file or 'the step test'} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def lactate_steps() -> list[dict]:
    rows = list(csv.DictReader(LACTATE_CSV.open()))
    return [{"intensity": float(r["intensity"]), "lactate": float(r["lactate_4"]),
             "heart_rate": float(r["heart_rate"]), "length": float(r["length"])} for r in rows]


def source(*paths: Path) -> list[str]:
    return [str(p.relative_to(REPO)) for p in paths]


def zan_ramp() -> dict:
    """The ZAN ramp test (running), heart rate from the Garmin track recorded beside it."""
    athlete = {"id": "7b1c3a52-5f0e-4d7e-9a51-1f0c2b4e8d11", "first_name": "Иван", "last_name": "Петров",
               "sex": "male", "birth_date": "1998-10-04", "height_cm": 180.0, "body_mass_kg": 66.0,
               "sport": "бег", "user_id": None}
    test = {"id": "0f4b6c1e-2d3a-4b5c-8d9e-0a1b2c3d4e5f", "athlete": athlete["id"], "date": "2024-05-02",
            "modality": "running", "protocol": "ramp", "device": "ZAN 600 (nSpire)", "temperature_c": 21.5,
            "humidity_pct": 40.0, "pressure_hpa": 1012.0}
    analysed = analyse(ZAN_RAMP, {"sex": "male", "age": 25, "body_mass_kg": 66.0}, hr_file=HR_TCX)
    return {"source": source(ZAN_RAMP, HR_TCX), "engine_version": analysed["engine_version"],
            "athlete": athlete, "test": test, "result": analysed["result"], "samples": analysed["samples"]}


def step_with_lactate() -> dict:
    """A cycling step test with the lactate steps of a real reference table. testdata/ holds no readable step test
    with a work rate (the CORTEX step export's load column is not read), and FATmax needs steady stages of known
    power, so the gas exchange comes from the engine's own step-test generator (seeded; 100 W + 40 W per stage,
    12 ml/min per W)."""
    steps = lactate_steps()
    athlete = {"first_name": "Anna", "last_name": "Smith", "sex": "female", "birth_date": "1990-02-01",
               "body_mass_kg": 60.0, "height_cm": 168.0, "sport": "cycling"}
    generator = {"seed": 1, "start": 100, "inc": 40, "speed": False, "n_stages": 6, "vo2_per_unit": 12.0}
    analysed = analyse(None, {"sex": "female", "age": 34, "body_mass_kg": 60.0}, lactate_steps=steps,
                       synthetic_step_test=generator)
    return {"source": [f"analysis.engine.synthetic.step_test({generator})", *source(LACTATE_CSV)],
            "engine_version": analysed["engine_version"],
            "athlete": athlete, "test": {"date": "2024-06-01", "modality": "cycling"}, "result": analysed["result"],
            "samples": analysed["samples"], "lactate_steps": steps, "lactate_result": analysed["lactate_result"]}


def lactate_only() -> dict:
    """A lactate step test without gas exchange (the reference table's steps only), as measurements serves it: an
    empty CPET result and the lactate thresholds."""
    steps = lactate_steps()
    athlete = {"first_name": "Ольга", "last_name": "Смирнова", "sex": "female", "birth_date": "1994-03-12",
               "body_mass_kg": 58.0, "height_cm": 166.0, "sport": "велоспорт"}
    analysed = analyse(None, {}, lactate_steps=steps, lactate_only=True)
    return {"source": source(LACTATE_CSV), "engine_version": analysed["engine_version"], "athlete": athlete,
            "test": {"date": "2024-07-15", "modality": "cycling"}, "result": {}, "samples": {},
            "lactate_steps": steps, "lactate_result": analysed["lactate_result"]}


def main() -> None:
    for name, make in (("zan_ramp", zan_ramp), ("step_with_lactate", step_with_lactate),
                       ("lactate_only", lactate_only)):
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(make(), ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n")
        print(f"regenerated {path.relative_to(REPO)} ({path.stat().st_size // 1024} KiB) from the analysis engine")


if __name__ == "__main__":
    main()
