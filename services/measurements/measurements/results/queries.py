"""Reads of stored analysis results: the current version, older versions, inputs for a recompute, progress."""
from __future__ import annotations

import datetime
import hashlib

import orjson
from django.conf import settings

from ..exercise_tests.models import ExerciseTest
from .models import AnalysisAudit, AnalysisResult, AnalysisSettings


def latest_result(test: ExerciseTest) -> AnalysisResult | None:
    return AnalysisResult.objects.filter(test=test).order_by("-version").first()


def result_version(test: ExerciseTest, version: int) -> AnalysisResult | None:
    return AnalysisResult.objects.filter(test=test, version=version).first()


def versions(test: ExerciseTest):
    return AnalysisResult.objects.filter(test=test).order_by("-version")


def audit_rows(test: ExerciseTest):
    return AnalysisAudit.objects.filter(test=test).order_by("version", "id")


def analysis_settings(tenant_id) -> AnalysisSettings:
    """The tenant's analysis defaults (an unsaved row with the defaults when it never set any)."""
    return AnalysisSettings.objects.filter(tenant_id=tenant_id).first() or AnalysisSettings(tenant_id=tenant_id)


def settings_body(row: AnalysisSettings) -> dict:
    return {"averaging": row.averaging or {}, "outliers": row.outliers or {}, "zone_model": row.zone_model,
            "meaningful_change_pct": row.meaningful_change_pct if row.meaningful_change_pct is not None
            else settings.PROGRESS_MEANINGFUL_CHANGE_PCT,
            "updated_at": _at(row.updated_at) if row.updated_at else None,
            "updated_by": str(row.updated_by) if row.updated_by else None}


def declared_protocol(test: ExerciseTest) -> dict | None:
    """The protocol the lab entered on the test, as the analysis service takes it (None: let it detect)."""
    if not test.protocol_declared or test.protocol not in (ExerciseTest.Protocol.RAMP, ExerciseTest.Protocol.STEPS):
        return None

    def positive(v):
        return v if v is not None and v > 0 else None

    return {"kind": test.protocol, "start": test.protocol_start, "increment": positive(test.protocol_increment),
            "stage_length_s": positive(test.protocol_stage_length_s), "baseline_s": test.protocol_baseline_s,
            "baseline_load": test.protocol_baseline_load,
            "load_channel": "speed_kmh" if test.modality == ExerciseTest.Modality.RUNNING else "power_w"}


FILE_ATHLETE = ("sex", "body_mass_kg", "age_years", "birth_date", "test_date")


def athlete_inputs(test: ExerciseTest) -> dict:
    """Everything the analysis depends on besides samples, overrides and lactate steps (so it is in the cache key):
    the body mass weighed that day, the athlete on record, what the file's header says, the test date, the declared
    protocol and the tenant's averaging strategy. The analysis service chooses among them (request > file > record
    for the body mass) and flags where the file's athlete is not the one on record."""
    athlete, meta = test.athlete, test.source_metadata or {}
    record = {"sex": athlete.sex if athlete.sex in ("male", "female") else None,
              "body_mass_kg": float(athlete.body_mass_kg) if athlete.body_mass_kg is not None else None,
              "birth_date": athlete.birth_date.isoformat() if athlete.birth_date else None}
    if record["body_mass_kg"] is not None and not 10 < record["body_mass_kg"] < 400:
        record["body_mass_kg"] = None
    file = {k: meta.get(k) for k in FILE_ATHLETE}
    if file["sex"] not in ("male", "female"):
        file["sex"] = None
    for k in ("body_mass_kg", "age_years"):
        if not isinstance(file[k], (int, float)) or isinstance(file[k], bool):
            file[k] = None
    for k in ("birth_date", "test_date"):
        file[k] = str(file[k])[:10] if file[k] else None
    request = {"body_mass_kg": test.body_mass_kg} if test.body_mass_kg is not None else None
    tenant = analysis_settings(test.tenant_id)
    averaging = dict(tenant.averaging or {})
    if tenant.outliers:
        averaging["outliers"] = tenant.outliers
    if meta.get("sampling"):  # the reader knows whether the rows are breaths or averages
        averaging["sampling"] = meta["sampling"]
    return {"athlete": request, "athlete_record": record, "file_metadata": file,
            "test_date": test.date.isoformat() if test.date else None, "protocol": declared_protocol(test),
            "averaging": averaging or None, "sport": sport_of(test)}


def sport_of(test: ExerciseTest) -> str:
    """The one source of a test's sport for the analysis: its recorded modality (lactate methods' units follow)."""
    return "running" if test.modality == ExerciseTest.Modality.RUNNING else "cycling"


def cache_key(test: ExerciseTest, overrides: dict, lactate: list[dict], athlete: dict, engine_version: str) -> str:
    """What a result depends on: the stored data, the lab's overrides, lactate steps, athlete inputs, the engine."""
    payload = {"data": test.data_digest, "overrides": overrides or {}, "lactate": lactate or [], "athlete": athlete,
               "engine": engine_version or ""}
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def result_body(row: AnalysisResult) -> dict:
    """The analysis service's CPET result shape, plus what we keep about this version."""
    return {**(row.result or {}), "zone_model": analysis_settings(row.tenant_id).zone_model,
            "lactate_thresholds": row.lactate, "overrides": row.overrides,
            "version": row.version, "computed_at": row.computed_at.isoformat().replace("+00:00", "Z"),
            "computed_by": str(row.computed_by) if row.computed_by else None, "engine_version": row.engine_version,
            "test": str(row.test_id)}


def _at(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def versions_body(test: ExerciseTest) -> dict:
    """Every stored version of the test's result, newest first, with who changed what and when."""
    audit: dict[int, list] = {}
    for row in audit_rows(test):
        audit.setdefault(row.version, []).append(
            {"action": row.action, "user_id": str(row.user_id) if row.user_id else None, "at": _at(row.at),
             "changes": row.changes})
    return {"test": str(test.pk), "versions": [
        {"version": r.version, "computed_at": _at(r.computed_at),
         "computed_by": str(r.computed_by) if r.computed_by else None, "engine_version": r.engine_version,
         "overrides": r.overrides, "audit": audit.get(r.version, [])}
        for r in versions(test)]}


def _section(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _threshold(t: dict | None) -> dict | None:
    if not isinstance(t, dict):
        return None
    keys = ("time_s", "vo2_ml_min", "vo2_ml_kg_min", "vo2_pct_max", "hr_bpm", "power_w", "speed_kmh", "method",
            "manual")
    return {k: t.get(k) for k in keys}


def progress(athlete) -> dict:
    """VO2max (absolute and relative), VT1/VT2 and zones across the athlete's analysed tests, in date order, with the
    change since the previous test of the same modality and whether it exceeds the meaningful-change threshold.

    Threshold: the typical (test–retest) error of VO2max measured with metabolic carts is about 3–5 % (e.g.
    Hopkins 2000, Sports Med 30:1; Katch 1982; Midgley 2007), so a change within ±5 % cannot be told apart from
    measurement noise for one athlete. Changes beyond PROGRESS_MEANINGFUL_CHANGE_PCT (default 5 %) are flagged.
    Tests of different modalities are not compared (cycling VO2max is typically 5–10 % below running).
    """
    threshold = settings_body(analysis_settings(athlete.tenant_id))["meaningful_change_pct"]
    # an undated test cannot be placed in time; an insufficient one has no VO2max to compare
    tests = list(ExerciseTest.objects.filter(athlete=athlete, date__isnull=False)
                 .exclude(status=ExerciseTest.Status.INSUFFICIENT).order_by("date", "created_at"))
    latest = {}
    for row in AnalysisResult.objects.filter(test__in=tests).order_by("test_id", "-version"):
        latest.setdefault(row.test_id, row)
    points, previous_by_modality = [], {}
    mass = float(athlete.body_mass_kg) if athlete.body_mass_kg is not None else None
    for test in tests:
        row = latest.get(test.pk)
        if row is None or not row.result or row.result.get("status") == "insufficient":
            continue
        result = row.result
        vo2 = _section(result, "vo2max", "vo2_ml_min")
        rel = _section(result, "vo2max", "vo2_ml_kg_min")
        if rel is None and vo2 is not None:
            test_mass = test.body_mass_used_kg or (test.source_metadata or {}).get("body_mass_kg") or mass
            rel = vo2 / test_mass if test_mass else None
        point = {
            "test": str(test.pk), "date": test.date.isoformat(), "modality": test.modality, "version": row.version,
            "vo2max_ml_min": vo2, "vo2max_ml_kg_min": rel,
            "vo2max_verdict": _section(result, "vo2max", "verdict"),
            "vt1": _threshold(result.get("vt1")), "vt2": _threshold(result.get("vt2")),
            "zones": result.get("zones"),
            "change": None,
        }
        prev = previous_by_modality.get(test.modality)
        if prev is not None and vo2 is not None and prev["vo2max_ml_min"]:
            pct = 100.0 * (vo2 - prev["vo2max_ml_min"]) / prev["vo2max_ml_min"]
            rel_pct = (100.0 * (rel - prev["vo2max_ml_kg_min"]) / prev["vo2max_ml_kg_min"]
                       if rel is not None and prev["vo2max_ml_kg_min"] else None)
            days = (test.date - datetime.date.fromisoformat(prev["date"])).days
            point["change"] = {
                "since_test": prev["test"], "days": days,
                "vo2max_ml_min": vo2 - prev["vo2max_ml_min"], "vo2max_pct": pct,
                "vo2max_ml_kg_min": (rel - prev["vo2max_ml_kg_min"]) if rel_pct is not None else None,
                "vo2max_ml_kg_min_pct": rel_pct,
                "meaningful": abs(pct) > threshold,
                "direction": "up" if pct > 0 else "down" if pct < 0 else "none",
            }
        points.append(point)
        if vo2 is not None:
            previous_by_modality[test.modality] = point
    return {"athlete": str(athlete.pk), "meaningful_change_pct": threshold,
            "threshold_basis": "typical error of VO2max ≈ 3–5 % (test–retest); changes beyond the threshold exceed "
                               "measurement noise. Compared within the same modality only.",
            "tests": points}
