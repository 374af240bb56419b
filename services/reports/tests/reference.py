"""Report inputs from stored reference results (tests/data/*.json): real exports in testdata/ as measurements would
serve them, analysed once by the analysis engine. `tests/data/regenerate.py` rewrites them; the tests never run
another service's code, and a missing file is an error, never a stand-in."""
from __future__ import annotations

import copy
import datetime as dt
import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@cache
def _stored(name: str) -> dict:
    path = DATA / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run tests/data/regenerate.py")
    return json.loads(path.read_text())


def zan_ramp() -> dict:
    """{athlete, test, result, samples} of the ZAN ramp test (running, HR from the TCX track)."""
    return copy.deepcopy(_stored("zan_ramp"))


def step_with_lactate() -> dict:
    """A cycling step test with the lactate steps of a reference CSV and their lactate thresholds."""
    return copy.deepcopy(_stored("step_with_lactate"))


def lactate_only() -> dict:
    """A lactate step test without gas exchange: the reference table's steps and their thresholds."""
    return copy.deepcopy(_stored("lactate_only"))


def report_data(payload: dict, **extra):
    from reports.rendering import AthleteInfo, ReportData, TestInfo

    return ReportData(athlete=AthleteInfo.from_dict(payload["athlete"]), test=TestInfo.from_dict(payload["test"]),
                      result=payload["result"], samples=payload["samples"],
                      lactate_steps=payload.get("lactate_steps"), lactate_result=payload.get("lactate_result"),
                      generated_at=dt.datetime(2024, 5, 3, tzinfo=dt.timezone.utc), **extra)
