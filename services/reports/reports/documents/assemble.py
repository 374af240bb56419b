"""measurements' JSON → the renderer's ReportData (reads only the fields it needs; tolerant of missing parts)."""
from __future__ import annotations

import datetime as dt

from ..rendering import AthleteInfo, PreviousTest, ReportData, TestInfo
from ..rendering.data import _to_date, summarize  # noqa: F401  (shared date parsing)
from .clients import Measurements

PROTOCOL_NAMES = {"ramp", "steps", "constant"}


def samples_of(body) -> dict:
    """`{"columns": {...}}` (measurements) or columns at the top level or a list of row dicts."""
    if isinstance(body, dict):
        if isinstance(body.get("columns"), dict):
            return body["columns"]
        if isinstance(body.get("samples"), dict):
            return body["samples"]
        if "time_s" in body:
            return body
    if isinstance(body, list) and body and isinstance(body[0], dict):
        keys = {k for row in body for k in row}
        return {k: [row.get(k) for row in body] for k in keys}
    return {}


def previous_of(progress, test_id: str, test_date: dt.date | None, modality) -> PreviousTest | None:
    """The latest earlier analysed test of the same modality from the athlete's progress."""
    points = progress.get("tests") if isinstance(progress, dict) else progress if isinstance(progress, list) else []
    earlier = []
    for p in points or []:
        if not isinstance(p, dict) or str(p.get("test")) == str(test_id):
            continue
        when = _to_date(p.get("date"))
        if test_date and when and when > test_date:
            continue
        if modality and p.get("modality") and p.get("modality") != modality:
            continue
        earlier.append((when or dt.date.min, p))
    if not earlier:
        return None
    _, p = max(earlier, key=lambda item: item[0])
    vt1, vt2 = p.get("vt1") or {}, p.get("vt2") or {}
    return PreviousTest(date=_to_date(p.get("date")), vo2max_ml_kg_min=p.get("vo2max_ml_kg_min"),
                        vo2max_ml_min=p.get("vo2max_ml_min"), vt1_hr_bpm=vt1.get("hr_bpm"),
                        vt2_hr_bpm=vt2.get("hr_bpm"), vt1_power_w=vt1.get("power_w"),
                        vt2_power_w=vt2.get("power_w"), vt1_speed_kmh=vt1.get("speed_kmh"),
                        vt2_speed_kmh=vt2.get("speed_kmh"))


def collect(client: Measurements, tenant_id: str, test_id: str, lab_name: str | None = None
            ) -> tuple[ReportData, dict]:
    """Everything the report shows about one test; returns (data, {athlete_id, athlete_user_id})."""
    test = client.test(tenant_id, test_id)
    athlete_id = test.get("athlete") or test.get("athlete_id")
    athlete = client.athlete(tenant_id, athlete_id) if athlete_id else {}
    analysis = client.analysis(tenant_id, test_id) or {}
    samples = samples_of(client.samples(tenant_id, test_id))
    steps_body = client.lactate_steps(tenant_id, test_id) or {}
    steps = steps_body.get("steps") if isinstance(steps_body, dict) else steps_body
    progress = client.progress(tenant_id, athlete_id) if athlete_id else None

    test_info = TestInfo.from_dict(test)
    if test_info.protocol in PROTOCOL_NAMES and isinstance(analysis.get("protocol"), dict):
        test_info.protocol = None  # the detected protocol says it, with its numbers
    lactate = analysis.get("lactate_thresholds") or analysis.get("lactate")
    data = ReportData(
        athlete=AthleteInfo.from_dict(athlete), test=test_info, result=analysis, samples=samples,
        lactate_steps=[{**s, "length": s.get("length_s")} for s in steps if isinstance(s, dict)] if steps else None,
        lactate_result=lactate if isinstance(lactate, dict) else None,
        previous=previous_of(progress, test_id, test_info.date, test.get("modality")),
        averaging=analysis.get("averaging") if isinstance(analysis.get("averaging"), dict) else None,
        methods={"analysis version": analysis["version"]} if analysis.get("version") else None,
        lab_name=lab_name)
    return data, {"athlete_id": athlete_id, "athlete_user_id": athlete.get("user_id")}
