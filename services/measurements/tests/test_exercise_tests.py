"""Exercise tests: CRUD and filters, samples JSON/CSV, lactate steps, overrides and versions, deletion, progress."""
import csv
import io
from pathlib import Path

import pytest

from measurements.exercise_tests.models import ExerciseTest, LactateStep, Sample
from measurements.imports.models import Import
from measurements.results.models import AnalysisAudit, AnalysisResult

from .conftest import CPET, LACTATE, db_count, outbox, upload

pytestmark = pytest.mark.django_db(transaction=True)

TEST = {"date": "2026-03-01", "modality": "cycling", "protocol": "ramp", "protocol_start": 50,
        "protocol_increment": 25, "protocol_stage_length_s": 60, "device": "ZAN 600", "temperature_c": 21.5,
        "humidity_pct": 40, "pressure_hpa": 1013, "notes": "fasted"}


def imported_test(client, athlete_id, name="gasexchanger/Anton_vo2max.txt"):
    imp = upload(client, athlete_id, CPET / name).json()
    imp = client.get(f"/api/v1/imports/{imp['id']}").json()
    assert imp["status"] == "done", imp
    return imp["test"]


def test_crud_filters_and_cursor_pages(caller, tenant_a, athlete):
    physio = caller(tenant_a, "physiologist")
    created = physio.post("/api/v1/tests/", {**TEST, "athlete": athlete["id"]}, format="json")
    assert created.status_code == 201, created.content
    test = created.json()
    assert test["status"] == "draft" and test["temperature_c"] == 21.5 and test["protocol"] == "ramp"
    for i, (date, modality) in enumerate([("2026-01-10", "running"), ("2026-02-10", "rowing")]):
        physio.post("/api/v1/tests/", {**TEST, "athlete": athlete["id"], "date": date, "modality": modality},
                    format="json")
    changed = physio.patch(f"/api/v1/tests/{test['id']}", {"notes": "after breakfast", "humidity_pct": 55},
                           format="json")
    assert changed.status_code == 200 and changed.json()["notes"] == "after breakfast"

    def ids(query):
        return [t["modality"] for t in physio.get("/api/v1/tests/" + query).json()["results"]]

    assert sorted(ids(f"?athlete={athlete['id']}")) == ["cycling", "rowing", "running"]
    assert ids("?modality=rowing") == ["rowing"]
    assert sorted(ids("?date_from=2026-02-01")) == ["cycling", "rowing"]
    assert ids("?date_to=2026-01-31") == ["running"]
    assert len(ids("?status=draft")) == 3 and ids("?status=analyzed") == []
    page = physio.get("/api/v1/tests/?page_size=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"]
    assert len(physio.client.get(page["next"]).json()["results"]) == 1
    assert physio.delete(f"/api/v1/tests/{test['id']}/").status_code == 204
    assert physio.get(f"/api/v1/tests/{test['id']}/").status_code == 404


def test_a_retried_test_create_returns_the_first_test_and_a_changed_body_is_refused(caller, tenant_a, tenant_b,
                                                                                     athlete):
    physio = caller(tenant_a, "physiologist")
    body = {**TEST, "athlete": athlete["id"]}
    first = physio.post("/api/v1/tests/", body, format="json", HTTP_IDEMPOTENCY_KEY="test-1")
    again = physio.post("/api/v1/tests/", body, format="json", HTTP_IDEMPOTENCY_KEY="test-1")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and first["Location"] == f"/api/v1/tests/{first.json()['id']}/"
    clash = physio.post("/api/v1/tests/", {**body, "notes": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="test-1")
    assert clash.status_code == 422 and clash.json()["type"].endswith("idempotency-key-reused")
    assert len(physio.get("/api/v1/tests/").json()["results"]) == 1
    # another tenant's caller with the same key and that athlete's id: 400 (no such athlete there), nothing replayed
    intruder = caller(tenant_b, "owner").post("/api/v1/tests/", body, format="json", HTTP_IDEMPOTENCY_KEY="test-1")
    assert intruder.status_code == 400


def test_bad_test_input_names_the_fields(caller, tenant_a, athlete):
    response = caller(tenant_a).post("/api/v1/tests/", {**TEST, "athlete": athlete["id"], "humidity_pct": 140,
                                                        "modality": "swimming"}, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in response.json()["errors"]} == {"humidity_pct", "modality"}


def test_samples_as_json_csv_and_averaged(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"])
    body = owner.get(f"/api/v1/tests/{test_id}/samples").json()
    n = body["count"]
    assert n == db_count(tenant_a, Sample, test_id=test_id) and len(body["columns"]["vo2_ml_min"]) == n
    assert body["columns"]["power_w"] is None  # a treadmill test: no power column
    as_csv = owner.get(f"/api/v1/tests/{test_id}/samples?format=csv")
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode())))
    assert rows[0][:2] == ["time_s", "vo2_ml_min"] and len(rows) == n + 1
    assert float(rows[1][1]) == body["columns"]["vo2_ml_min"][0]
    by_accept = owner.get(f"/api/v1/tests/{test_id}/samples", HTTP_ACCEPT="text/csv")
    assert by_accept.content == as_csv.content
    averaged = owner.get(f"/api/v1/tests/{test_id}/samples?average=30").json()
    times = averaged["columns"]["time_s"]
    span = body["columns"]["time_s"][-1] - body["columns"]["time_s"][0]
    assert averaged["average_s"] == 30 and span / 30 - 1 <= len(times) <= span / 30 + 2
    assert all(b > a for a, b in zip(times, times[1:]))
    assert owner.get(f"/api/v1/tests/{test_id}/samples?average=0").status_code == 400


def test_override_vt1_changes_zones_and_makes_a_new_version(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"])
    auto = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert auto["vt1"]["manual"] is False
    new_time = round((auto["vt1"]["time_s"] + auto["vt2"]["time_s"]) / 2)  # later, still before VT2
    physio = caller(tenant_a, "physiologist")
    patched = physio.patch(f"/api/v1/tests/{test_id}/analysis", {"overrides": {"vt1": {"time_s": new_time}}},
                           format="json")
    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert body["version"] == 2 and body["recomputed"] is True
    assert body["vt1"]["manual"] is True and body["vt1"]["time_s"] == pytest.approx(new_time, abs=10)
    assert body["overrides"] == {"vt1": {"time_s": new_time}}
    assert body["zones"] != auto["zones"]  # zones follow the threshold
    assert body["zones"]["three_zone"][0]["hr_bpm"][1] > auto["zones"]["three_zone"][0]["hr_bpm"][1]
    # the same override again: nothing changed, nothing recomputed
    again = physio.patch(f"/api/v1/tests/{test_id}/analysis", {"overrides": {"vt1": {"time_s": new_time}}},
                         format="json").json()
    assert again["version"] == 2 and again["recomputed"] is False
    # an exclusion is another change → version 3; removing the override keeps the exclusion
    excl = physio.patch(f"/api/v1/tests/{test_id}/analysis", {"exclude": [[300, 330]], "overrides": {"vt1": None}},
                        format="json").json()
    assert excl["version"] == 3 and excl["overrides"] == {"exclude": [[300.0, 330.0]]}
    assert excl["quality"]["excluded_breaths"] > 0 and excl["vt1"]["manual"] is False
    # older versions stay readable, with who changed what and when
    assert owner.get(f"/api/v1/tests/{test_id}/analysis?version=1").json()["vt1"]["manual"] is False
    versions = owner.get(f"/api/v1/tests/{test_id}/analysis/versions").json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    v2 = versions[1]["audit"][0]
    assert v2["action"] == "override" and v2["user_id"] == physio.user_id
    assert v2["changes"]["overrides"] == {"before": {}, "after": {"vt1": {"time_s": new_time}}}
    analyzed = outbox("measurements.test.analyzed")
    assert [d["revision"] for _, d in analyzed] == [1, 2, 3]
    assert analyzed[1][1]["overridden"] is True and analyzed[1][1]["requested_by"] == physio.user_id


def test_bad_overrides_are_refused(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"], "spiro/cortex.xml")
    for body, field in [({"overrides": {"vt3": {"time_s": 1}}}, "overrides"),
                        ({"overrides": {"vo2max": {"vo2_ml_min": 4000}}}, "overrides.vo2max.reason"),
                        ({"overrides": {"vt1": {}}}, "overrides.vt1"),
                        ({"exclude": [[1, 2, 3]]}, "exclude.0"), ({}, None)]:
        response = owner.patch(f"/api/v1/tests/{test_id}/analysis", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field
    draft = owner.post("/api/v1/tests/", {**TEST, "athlete": athlete["id"]}, format="json").json()
    assert owner.get(f"/api/v1/tests/{draft['id']}/analysis").json()["type"] == "urn:vo2:problem:no-analysis"
    assert owner.patch(f"/api/v1/tests/{draft['id']}/analysis", {"exclude": []},
                       format="json").status_code == 409


def test_lactate_steps_json_csv_and_xlsx(caller, tenant_a, athlete, pipeline, tmp_path):
    owner = caller(tenant_a)
    draft = owner.post("/api/v1/tests/", {**TEST, "athlete": athlete["id"], "protocol": "steps"},
                       format="json").json()
    url = f"/api/v1/tests/{draft['id']}/lactate-steps"
    steps = [{"intensity": 0, "lactate": 0.93, "heart_rate": 96},
             {"intensity": 50, "lactate": 0.98, "heart_rate": 114, "rpe": 8, "length_s": 180},
             {"intensity": 75, "lactate": 1.23, "heart_rate": 134, "rpe": 10, "length_s": 180},
             {"intensity": 100, "lactate": 1.88, "heart_rate": 154, "rpe": 12, "length_s": 180},
             {"intensity": 125, "lactate": 2.8, "heart_rate": 170, "rpe": 15, "length_s": 180},
             {"intensity": 150, "lactate": 4.9, "heart_rate": 182, "rpe": 18, "length_s": 180}]
    posted = owner.post(url, steps, format="json")
    assert posted.status_code == 200, posted.content
    assert len(posted.json()["steps"]) == 6 and posted.json()["version"] == 1
    thresholds = posted.json()["lactate_thresholds"]
    assert thresholds and db_count(tenant_a, LactateStep, test_id=draft["id"]) == 6
    stored = owner.get(f"/api/v1/tests/{draft['id']}/analysis").json()
    assert stored["lactate_thresholds"] == thresholds and stored["version"] == 1
    # a CSV sheet replaces the steps (lactater demo data, one row per stage)
    with open(LACTATE / "lactater_demo_data.csv", "rb") as sheet:
        from_csv = owner.post(url, {"file": sheet}, format="multipart")
    assert from_csv.status_code == 200, from_csv.content
    expected = len((LACTATE / "lactater_demo_data.csv").read_text().strip().splitlines()) - 1
    assert len(from_csv.json()["steps"]) == expected and from_csv.json()["version"] == 2
    assert from_csv.json()["steps"][1]["length_s"] == 180
    # and an XLSX sheet with timed lactate columns (the last one is used)
    from openpyxl import Workbook

    book = Workbook()
    rows = list(csv.reader(open(LACTATE / "lactate_thresholds_cycling2_example.csv")))
    for row in rows:
        book.active.append([float(c) if c.replace(".", "").isdigit() else c for c in row])
    book.save(tmp_path / "steps.xlsx")
    with open(tmp_path / "steps.xlsx", "rb") as sheet:
        from_xlsx = owner.post(url, {"file": sheet}, format="multipart")
    assert from_xlsx.status_code == 200, from_xlsx.content
    got = from_xlsx.json()["steps"]
    assert len(got) == len(rows) - 1 and got[0]["lactate"] == float(rows[1][6]) and got[0]["rpe"] == 6
    assert owner.get(url).json()["steps"] == got
    audit = owner.get(f"/api/v1/tests/{draft['id']}/analysis/versions").json()["versions"]
    assert [v["audit"][0]["action"] for v in audit] == ["lactate"] * 3
    bad = owner.post(url, [{"intensity": "x", "lactate": 1}], format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"].endswith("intensity")
    with open(CPET / "spiro" / "vyntus.txt", "rb") as not_a_sheet:
        assert owner.post(url, {"file": not_a_sheet}, format="multipart").status_code == 400


def test_deleting_a_test_removes_samples_results_and_files(caller, tenant_a, athlete, pipeline, settings):
    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"])
    owner.patch(f"/api/v1/tests/{test_id}/analysis", {"exclude": [[100, 120]]}, format="json")
    imp = owner.get("/api/v1/imports/").json()["results"][0]
    folder = Path(settings.UPLOADS_DIR) / tenant_a / imp["id"]
    assert folder.is_dir()
    assert caller(tenant_a, "physiologist").delete(f"/api/v1/tests/{test_id}").status_code == 204
    assert not folder.exists()
    for model in (ExerciseTest, Sample, AnalysisResult, Import):
        assert db_count(tenant_a, model) == 0, model
    # the audit stays anonymised: who changed an analysis and when, no longer the test nor its values
    assert db_count(tenant_a, AnalysisAudit) == 2
    assert db_count(tenant_a, AnalysisAudit, test__isnull=True, changes={}) == 2
    deleted = outbox("measurements.test.deleted")
    assert deleted == [("measurements.test.deleted", {"test_id": test_id, "athlete_id": athlete["id"],
                                                      "reason": "user", "deleted_by": deleted[0][1]["deleted_by"]})]


def test_deleting_an_athlete_cascades_to_tests_samples_and_files(caller, tenant_a, athlete, pipeline, settings):
    owner = caller(tenant_a)
    first = imported_test(owner, athlete["id"])
    second = imported_test(owner, athlete["id"], "spiro/cortex.xml")
    failed = upload(owner, athlete["id"], ("junk.txt", b"nothing here\n")).json()
    uploads = Path(settings.UPLOADS_DIR) / tenant_a
    assert len(list(uploads.iterdir())) == 3
    assert owner.delete(f"/api/v1/athletes/{athlete['id']}/").status_code == 204
    assert list(uploads.iterdir()) == []
    for model in (ExerciseTest, Sample, AnalysisResult, Import):
        assert db_count(tenant_a, model) == 0, model
    deleted = {d["test_id"]: d["reason"] for _, d in outbox("measurements.test.deleted")}
    assert deleted == {first: "athlete_deleted", second: "athlete_deleted"}
    assert owner.get(f"/api/v1/imports/{failed['id']}").status_code == 404


def test_progress_across_tests_flags_meaningful_changes(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    first = imported_test(owner, athlete["id"])
    second = imported_test(owner, athlete["id"])
    third = imported_test(owner, athlete["id"])
    owner.patch(f"/api/v1/tests/{first}/", {"date": "2025-09-01"}, format="json")
    owner.patch(f"/api/v1/tests/{second}/", {"date": "2025-12-01"}, format="json")
    owner.patch(f"/api/v1/tests/{third}/", {"date": "2026-03-01"}, format="json")
    # the third test loses its best minutes (excluded): a drop well beyond the typical error
    peak_t = owner.get(f"/api/v1/tests/{third}/analysis").json()["peak"]["time_s"]
    times = owner.get(f"/api/v1/tests/{third}/samples").json()["columns"]["time_s"]
    window = [max(peak_t - 400, times[0]), min(peak_t + 400, times[-1])]  # an excluded range lies inside the test
    cut = owner.patch(f"/api/v1/tests/{third}/analysis", {"exclude": [window]}, format="json")
    assert cut.status_code == 200, cut.content
    progress = owner.get(f"/api/v1/athletes/{athlete['id']}/progress")
    assert progress.status_code == 200
    body = progress.json()
    assert body["meaningful_change_pct"] == 5.0 and "typical error" in body["threshold_basis"]
    points = body["tests"]
    assert [p["test"] for p in points] == [first, second, third]
    assert points[0]["change"] is None
    assert points[1]["change"]["vo2max_pct"] == pytest.approx(0, abs=1e-9)
    assert points[1]["change"]["meaningful"] is False and points[1]["change"]["days"] == 91
    assert points[2]["change"]["vo2max_pct"] < -5 and points[2]["change"]["meaningful"] is True
    # versions: 1 import, 2 the date (an input of the analysis: age, norms), 3 the exclusion
    assert points[2]["change"]["direction"] == "down" and points[2]["version"] == 3
    # per kg with the body mass the analysis used (request > file > record: here the file's), rounded to 0.1
    used = owner.get(f"/api/v1/tests/{first}/").json()["body_mass_used_kg"]
    assert used and points[0]["vo2max_ml_kg_min"] == pytest.approx(points[0]["vo2max_ml_min"] / used, abs=0.06)
    assert points[0]["vt1"]["vo2_ml_min"] and points[0]["zones"]["five_zone"]


@pytest.mark.django_db(transaction=True)
def test_an_override_asks_the_analysis_with_no_transaction_open(caller, tenant_a, athlete, pipeline, monkeypatch):
    """The request holds no database transaction while the analysis service computes (it may take seconds)."""
    from django.db import connection

    from measurements.results import analysis

    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"])
    seen, real = [], analysis.cpet

    def watched(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "cpet", watched)
    patched = owner.patch(f"/api/v1/tests/{test_id}/analysis", {"exclude": [[300, 330]]}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["version"] == 2 and patched.json()["recomputed"] is True
    assert seen == [False]
    # a refusal stores nothing
    from servicekit import http

    def refuse(*args, **kwargs):
        raise http.Refused(422, {"type": "urn:vo2:problem:validation-error", "status": 422, "detail": "no"})

    monkeypatch.setattr(analysis, "cpet", refuse)
    refused = owner.patch(f"/api/v1/tests/{test_id}/analysis", {"exclude": [[400, 430]]}, format="json")
    assert refused.status_code == 422 and refused.json()["type"] == "urn:vo2:problem:analysis-refused"
    assert owner.get(f"/api/v1/tests/{test_id}/analysis").json()["version"] == 2
