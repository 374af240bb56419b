"""The parts of an athlete's export ZIP and its README: what measurements holds (read inside the flow's
transaction) and the report files (from the reports service, outside any transaction)."""
from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import uuid
import zipfile

from servicekit import storage

from ..athletes.models import Athlete
from ..exercise_tests import queries as test_queries
from ..exercise_tests.models import SAMPLE_COLUMNS, ExerciseTest
from ..imports import actions as import_actions
from ..imports.models import Import
from ..results import queries as result_queries
from . import reports

LACTATE_COLUMNS = ("stage", "intensity", "lactate", "heart_rate", "rpe", "length_s")
ATHLETE_FIELDS = ("id", "first_name", "last_name", "sex", "birth_date", "height_cm", "body_mass_kg", "sport", "notes",
                  "user_id", "created_by", "created_at", "updated_at")
TEST_FIELDS = ("id", "date", "modality", "status", "protocol", "protocol_start", "protocol_increment",
               "protocol_stage_length_s", "protocol_baseline_s", "protocol_baseline_load", "protocol_declared",
               "body_mass_kg", "body_mass_used_kg", "insufficient_reasons", "device", "temperature_c", "humidity_pct",
               "pressure_hpa", "notes", "source_format", "source_metadata", "sample_count", "created_by",
               "created_at", "updated_at")
IMPORT_FIELDS = ("id", "test_id", "filename", "size_bytes", "sha256", "format_hint", "detected_format", "modality",
                 "status", "warnings", "problem", "created_by", "created_at", "finished_at")


def _plain(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value) if isinstance(value, uuid.UUID) else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(z: zipfile.ZipFile, name: str, data) -> None:
    z.writestr(name, json.dumps(data, indent=2, ensure_ascii=False, default=_plain) + "\n")


def _fields(obj, names) -> dict:
    return {n: getattr(obj, n) for n in names}


def _csv(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def test_folder(test: ExerciseTest) -> str:
    return f"tests/{test.date.isoformat() if test.date else 'undated'}_{test.pk}"


def write_measurements(z: zipfile.ZipFile, athlete: Athlete) -> dict:
    """The athlete record, every test (metadata, samples CSV, lactate steps CSV, every result version, the
    overrides with their history) and the athlete's imports with the uploaded files. Returns counts."""
    _json(z, "athlete.json", _fields(athlete, ATHLETE_FIELDS))
    counts = {"tests": 0, "samples": 0, "result_versions": 0, "lactate_steps": 0, "imports": 0, "uploaded_files": 0}
    for test in ExerciseTest.objects.filter(athlete=athlete).order_by("date", "created_at"):
        folder = test_folder(test)
        counts["tests"] += 1
        _json(z, f"{folder}/test.json", _fields(test, TEST_FIELDS))
        columns = test_queries.samples_columns(test)
        rows = list(zip(*(columns[c] for c in SAMPLE_COLUMNS)))
        z.writestr(f"{folder}/samples.csv", _csv(SAMPLE_COLUMNS, rows))
        counts["samples"] += len(rows)
        steps = list(test_queries.lactate_steps(test))
        z.writestr(f"{folder}/lactate_steps.csv",
                   _csv(LACTATE_COLUMNS, [[getattr(s, c) for c in LACTATE_COLUMNS] for s in steps]))
        counts["lactate_steps"] += len(steps)
        versions = list(result_queries.versions(test))
        counts["result_versions"] += len(versions)
        _json(z, f"{folder}/results.json", [
            {"version": r.version, "computed_at": r.computed_at, "computed_by": r.computed_by,
             "engine_version": r.engine_version, "overrides": r.overrides, "result": r.result, "lactate": r.lactate}
            for r in versions])
        _json(z, f"{folder}/overrides.json", {
            "current": versions[0].overrides if versions else {},
            "history": [{"version": a.version, "action": a.action, "by": a.user_id, "at": a.at,
                         "changes": a.changes} for a in result_queries.audit_rows(test)]})
    uploads = import_actions.uploads()
    imports = list(Import.objects.filter(athlete=athlete).order_by("created_at"))
    _json(z, "imports.json", [{**_fields(i, IMPORT_FIELDS), "file": f"uploads/{i.pk}/{storage.safe_name(i.filename)}"}
                              for i in imports])
    for imp in imports:
        counts["imports"] += 1
        if imp.file_key and uploads.exists(imp.file_key):
            z.writestr(f"uploads/{imp.pk}/{storage.safe_name(imp.filename)}", uploads.get(imp.file_key))
            counts["uploaded_files"] += 1
    return counts


def write_reports(z: zipfile.ZipFile, tenant_id: str, athlete_id: str) -> int:
    """Every finished report of the athlete, its file as rendered, and reports/reports.json describing them.
    `http.Unavailable` goes up (the job tries again later)."""
    listed, written = reports.athletes_reports(tenant_id, athlete_id), []
    for report in listed:
        data = reports.report_file(tenant_id, report["id"])
        if data is None:
            continue
        name = f"reports/{report['id']}.{report.get('format') or 'pdf'}"
        z.writestr(name, data)
        written.append({**{k: report.get(k) for k in ("id", "test", "language", "template", "format", "conclusion",
                                                      "sha256", "pages", "created_at", "finished_at")},
                        "file": name})
    _json(z, "reports/reports.json", written)
    return len(written)


README = """\
Your data: the export of athlete {athlete_id}
Made {made} (UTC). Everything the lab's VO2max Report system holds about the athlete, in open formats.

athlete.json                 the athlete record (name, sex, birth date, height, body mass, sport, notes)
tests/<date>_<test id>/      one folder per exercise test ({tests} tests)
  test.json                  the test's metadata: date, modality, the declared protocol, the conditions,
                             the device and what the import read from the cart's file
  samples.csv                the breath-by-breath measurements ({samples} rows in all), one row per breath:
                             time_s (s), vo2_ml_min and vco2_ml_min (mL/min), ve_l_min (L/min), hr_bpm and
                             rf_bpm (1/min), vt_l (L), peto2_mmhg and petco2_mmhg (mmHg), power_w (W),
                             speed_kmh (km/h), grade_pct (%); an empty cell was not measured
  lactate_steps.csv          blood lactate per stage ({lactate_steps} in all): intensity (W or km/h),
                             lactate (mmol/L), heart_rate (1/min), rpe (Borg), length_s (s)
  results.json               every version of the analysis ({result_versions} in all), newest first: VO2max,
                             the ventilatory thresholds VT1/VT2, lactate thresholds, training zones, FATmax,
                             quality flags, the engine version, the overrides each version was computed with
  overrides.json             the physiologist's current overrides, and the history of every change: who, when,
                             what it was before and after, and the reason given
imports.json                 the uploaded cart files ({imports}) and what became of them
uploads/<import id>/<file>   the uploaded files as received ({uploaded_files})
reports/<report id>.<pdf|docx>  every rendered report ({reports})
reports/reports.json         what each report is: test, language, template, when it was made

Dates and times are ISO 8601 (UTC); ids are the system's own. JSON is UTF-8; CSV is comma-separated with a
header row. Ask the lab for a correction or deletion of any of this data.
"""


def write_readme(z: zipfile.ZipFile, *, athlete_id: str, counts: dict) -> None:
    made = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "")
    z.writestr("README.txt", README.format(athlete_id=athlete_id, made=made, **counts))
