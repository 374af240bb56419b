"""measurements' JSON → the renderer's ReportData (reads only the fields it needs; tolerant of missing parts)."""
from __future__ import annotations

import datetime as dt

from ..rendering import AthleteInfo, Branding, PreviousTest, ReportData, TestInfo
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


def usable(result) -> bool:
    """Can this stored result be reported? measurements marks a test that cannot yield a VO2max `insufficient`
    (the analysis result's `status`, or `usable: false`)."""
    if not isinstance(result, dict):
        return False
    return result.get("status") != "insufficient" and result.get("usable") is not False


def previous_of(progress, test_id: str, test_date: dt.date | None, modality) -> PreviousTest | None:
    """The athlete's latest usable test strictly before this one, of the same modality: the rule of measurements'
    /progress, which lists the analysed tests in order (test date, then when they were recorded) and names, for
    each, the test its change is counted from (`change.since_test`). Its change and whether it is meaningful come
    from there too. A test /progress does not list yet is placed by date: strictly earlier days only."""
    body = progress if isinstance(progress, dict) else {}
    points = body.get("tests") if isinstance(progress, dict) else progress if isinstance(progress, list) else []
    points = [p for p in points or [] if isinstance(p, dict)]
    same = [p for p in points if not modality or not p.get("modality") or p.get("modality") == modality]
    mine = next((p for p in points if str(p.get("test")) == str(test_id)), None)
    previous, change = None, None
    if mine is not None:
        change = mine.get("change") if isinstance(mine.get("change"), dict) else None
        if change and change.get("since_test"):
            previous = next((p for p in points if str(p.get("test")) == str(change["since_test"])), None)
        else:
            at = points.index(mine)
            earlier = [p for p in same[:] if points.index(p) < at and p.get("vo2max_ml_min") is not None
                       and usable(p) and str(p.get("test")) != str(test_id)]
            previous = earlier[-1] if earlier else None
    else:
        earlier = [p for p in same if test_date and _to_date(p.get("date")) and _to_date(p.get("date")) < test_date
                   and p.get("vo2max_ml_min") is not None and usable(p)]
        previous = earlier[-1] if earlier else None
    if previous is None:
        return None
    vt1, vt2 = previous.get("vt1") or {}, previous.get("vt2") or {}
    return PreviousTest(date=_to_date(previous.get("date")), vo2max_ml_kg_min=previous.get("vo2max_ml_kg_min"),
                        vo2max_ml_min=previous.get("vo2max_ml_min"), vt1_hr_bpm=vt1.get("hr_bpm"),
                        vt2_hr_bpm=vt2.get("hr_bpm"), vt1_power_w=vt1.get("power_w"),
                        vt2_power_w=vt2.get("power_w"), vt1_speed_kmh=vt1.get("speed_kmh"),
                        vt2_speed_kmh=vt2.get("speed_kmh"),
                        change_pct=(change or {}).get("vo2max_pct"), meaningful=(change or {}).get("meaningful"),
                        meaningful_change_pct=body.get("meaningful_change_pct"))


def collect(client: Measurements, tenant_id: str, test_id: str, *, branding: Branding | None = None,
            conclusion: str | None = None) -> tuple[ReportData, dict]:
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
        methods={"result_version": analysis["version"]} if analysis.get("version") else None,
        branding=branding or Branding(), conclusion=conclusion)
    return data, {"athlete_id": athlete_id, "athlete_user_id": athlete.get("user_id"), "usable": usable(analysis)}
