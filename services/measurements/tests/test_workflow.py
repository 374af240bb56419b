"""The lab's test workflow (issue 13) against the real analysis service: a heart-rate track onto a test, a declared
protocol that drives (and re-derives) the analysis, overrides checked with nothing stored when refused, tests that
cannot yield VO2max, the file's athlete vs the record, an undated file, and the tenant's analysis defaults."""
import pytest

from measurements.exercise_tests.models import ExerciseTest, Sample

from .conftest import CPET, db_count, upload

pytestmark = pytest.mark.django_db(transaction=True)

TCX = CPET / "spiro" / "hr_ramp.tcx"
STEPS = {"protocol": "steps", "protocol_start": 50, "protocol_increment": 25, "protocol_stage_length_s": 180,
         "protocol_baseline_s": 120, "protocol_baseline_load": 0}


def digest_of(tenant_id, test_id):
    from servicekit.tenancy import tenant_transaction

    with tenant_transaction(str(tenant_id)):
        return ExerciseTest.objects.get(pk=test_id).data_digest


def imported(client, athlete_id, name):
    imp = upload(client, athlete_id, CPET / name).json()
    imp = client.get(f"/api/v1/imports/{imp['id']}").json()
    assert imp["status"] == "done", imp
    return imp


def post_hr(client, test_id, data=None, name="hr_ramp.tcx", content=None, **form):
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = {**form, "file": SimpleUploadedFile(name, content if content is not None else TCX.read_bytes())}
    return client.post(f"/api/v1/tests/{test_id}/heart-rate", body, format="multipart")


def test_heart_rate_track_onto_zan_ramp(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a, "physiologist")
    imp = imported(owner, athlete["id"], "spiro/zan_ramp")
    test_id = imp["test"]
    before = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert before["vt1"]["hr_bpm"] is None and before["zones"]["three_zone"][0]["hr_bpm"] is None
    r = post_hr(owner, test_id)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["method"] == "correlation" and abs(body["offset_s"]) <= 15 and body["correlation"] > 0.9
    assert body["format"] == "tcx" and body["version"] == 2 and body["replaced_recorded"] is False
    after = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert after["vt1"]["hr_bpm"] and after["vt2"]["hr_bpm"] and after["vt1"]["hr_bpm"] < after["vt2"]["hr_bpm"]
    assert all(z["hr_bpm"] for z in after["zones"]["five_zone"])
    audit = owner.get(f"/api/v1/tests/{test_id}/analysis/versions").json()["versions"][0]["audit"][0]
    assert audit["action"] == "heart_rate" and audit["user_id"] == owner.user_id
    assert audit["changes"]["heart_rate"]["method"] == "correlation"
    # a recorded heart rate is not overwritten unless asked; the offset given is used as given
    again = post_hr(owner, test_id)
    assert again.status_code == 409 and again.json()["type"] == "urn:vo2:problem:heart-rate-recorded"
    replaced = post_hr(owner, test_id, offset_s="0", replace="true")
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["method"] == "offset" and replaced.json()["offset_s"] == 0
    late = post_hr(owner, test_id, offset_s="300", replace="true").json()  # the track starts 5 min in
    assert [d["code"] for d in late["warning_details"]] == ["hr_track_coverage"]
    assert late["warning_details"][0]["message"] == late["warnings"][0]
    assert replaced.json()["replaced_recorded"] is True and replaced.json()["version"] == 3


def test_hostile_heart_rate_uploads_store_nothing(caller, tenant_a, athlete, pipeline, settings):
    owner = caller(tenant_a)
    test_id = imported(owner, athlete["id"], "spiro/zan_ramp")["test"]
    digest = digest_of(tenant_a, test_id)
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b"<TrainingCenterDatabase>&b;</TrainingCenterDatabase>")
    external = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><TrainingCenterDatabase>&e;</TrainingCenterDatabase>'
    for name, content, slug in [("bomb.tcx", bomb, "xml-entities-forbidden"),
                                ("xxe.tcx", external, "xml-entities-forbidden"),
                                ("junk.fit", b"\x00\xff\x13" * 500, "unknown-format"),
                                ("report.pdf", b"%PDF-1.7 not a track", "unknown-format"),
                                ("cart.xml", (CPET / "spiro/cortex.xml").read_bytes(), "unknown-format"),
                                ("hr.csv", b"time,hr\n1,inf\n2,120\n", "non-finite-value"),
                                ("words.txt", b"no header here\njust words\n", "no-header")]:
        r = post_hr(owner, test_id, name=name, content=content)
        assert r.status_code == 422, (name, r.content)
        assert r.json()["type"] == f"urn:vo2:problem:{slug}" and r["Content-Type"] == "application/problem+json"
    missing = owner.post(f"/api/v1/tests/{test_id}/heart-rate", {"offset_s": "1"}, format="multipart")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "file"
    bad_offset = post_hr(owner, test_id, offset_s="soon")
    assert bad_offset.status_code == 400 and bad_offset.json()["errors"][0]["field"] == "offset_s"
    settings.MAX_UPLOAD_BYTES = 4096
    big = post_hr(owner, test_id)
    assert big.status_code == 413 and big.json()["type"] == "urn:vo2:problem:payload-too-large"
    assert digest_of(tenant_a, test_id) == digest  # nothing stored
    assert owner.get(f"/api/v1/tests/{test_id}/analysis").json()["version"] == 1


def test_heart_rate_route_tenant_and_role(caller, tenant_a, tenant_b, athlete, pipeline):
    owner = caller(tenant_a)
    test_id = imported(owner, athlete["id"], "spiro/zan_ramp")["test"]
    assert post_hr(caller(tenant_b), test_id).status_code == 404
    assert post_hr(caller(tenant_a, "viewer"), test_id).status_code == 403
    draft = owner.post("/api/v1/tests/", {"athlete": athlete["id"], "date": "2026-01-01"}, format="json").json()
    assert post_hr(owner, draft["id"]).json()["type"] == "urn:vo2:problem:no-samples"


def test_declared_protocol_drives_and_rederives_the_analysis(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    test_id = imported(owner, athlete["id"], "whippr/step_cortex.xlsx")["test"]
    first = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert first["protocol"]["kind"] != "steps" and first["peak"]["power_w"] is None
    wrong = owner.patch(f"/api/v1/tests/{test_id}/", {"protocol": "step"}, format="json")
    assert wrong.status_code == 400
    err = wrong.json()["errors"][0]
    assert err["field"] == "protocol" and "ramp, steps" in err["detail"]
    r = owner.patch(f"/api/v1/tests/{test_id}/", STEPS, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["protocol_declared"] is True and r.json()["protocol_baseline_s"] == 120
    res = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert res["version"] == 2 and res["protocol"]["kind"] == "steps" and res["protocol"]["load_source"] == "declared"
    assert res["peak"]["power_w"] >= 200 and all(z["power_w"] for z in res["zones"]["five_zone"])
    audit = owner.get(f"/api/v1/tests/{test_id}/analysis/versions").json()["versions"][0]["audit"][0]
    assert audit["action"] == "protocol" and audit["changes"]["test"]["protocol_increment"]["after"] == 25
    # the same values again change nothing
    assert owner.patch(f"/api/v1/tests/{test_id}/", STEPS, format="json").status_code == 200
    assert owner.get(f"/api/v1/tests/{test_id}/analysis").json()["version"] == 2


def test_invalid_overrides_are_422_and_store_nothing(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    test_id = imported(owner, athlete["id"], "spiro/zan_ramp")["test"]
    stored = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    for body, field in [({"overrides": {"vt1": {"time_s": 5000}}}, "overrides.vt1.time_s"),
                        ({"overrides": {"vt1": {"time_s": -10}}}, "overrides.vt1.time_s"),
                        ({"overrides": {"vt2": {"time_s": 200}}}, "overrides.vt2.time_s"),
                        ({"overrides": {"vt1": {"speed_kmh": 40}}}, "overrides.vt1.speed_kmh"),
                        ({"exclude": [[0, 5000]]}, "overrides.exclude[0]")]:
        r = owner.patch(f"/api/v1/tests/{test_id}/analysis", body, format="json")
        assert r.status_code == 422, (body, r.content)
        p = r.json()
        assert p["type"] == "urn:vo2:problem:invalid-override" and p["errors"][0]["field"] == field
        if "time_s" in field and "vt1" in field:
            assert p["errors"][0]["allowed"]["max"] <= 854
    now = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert now["version"] == stored["version"] == 1 and now["vt1"] == stored["vt1"]
    # a valid one: set by speed, the rest derived; VO2max by hand with a reason; the audit keeps who, old, new, why
    ok = owner.patch(f"/api/v1/tests/{test_id}/analysis", {
        "overrides": {"vt1": {"speed_kmh": 12.5}, "vo2max": {"vo2_ml_min": 5100, "reason": "verification bout"}}},
        format="json")
    assert ok.status_code == 200, ok.content
    res = ok.json()
    assert res["vt1"]["speed_kmh"] == 12.5 and res["vt1"]["time_s"] and res["vt1"]["vo2_ml_min"]
    assert res["vo2max"]["vo2_ml_min"] == 5100 and res["vo2max"]["detected_vo2_ml_min"] == stored["vo2max"]["vo2_ml_min"]
    audit = owner.get(f"/api/v1/tests/{test_id}/analysis/versions").json()["versions"][0]["audit"][0]
    assert audit["user_id"] == owner.user_id and audit["at"] and audit["changes"]["reason"] == "verification bout"
    assert audit["changes"]["overrides"]["before"] == {}
    assert audit["changes"]["overrides"]["after"]["vo2max"] == {"vo2_ml_min": 5100, "reason": "verification bout"}


def test_an_excerpt_is_insufficient_and_left_out_of_progress(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    good = imported(owner, athlete["id"], "spiro/zan_ramp")["test"]
    owner.patch(f"/api/v1/tests/{good}/", {"date": "2025-01-01"}, format="json")
    excerpt = imported(owner, athlete["id"], "spiro/cortex.xml")["test"]
    test = owner.get(f"/api/v1/tests/{excerpt}/").json()
    assert test["status"] == "insufficient" and test["insufficient_reasons"]
    assert "too_short" in {r["code"] for r in test["insufficient_reasons"]}
    assert owner.get(f"/api/v1/tests/{excerpt}/analysis").json()["status"] == "insufficient"
    listed = owner.get("/api/v1/tests/?status=insufficient").json()["results"]
    assert [t["id"] for t in listed] == [excerpt]
    progress = owner.get(f"/api/v1/athletes/{athlete['id']}/progress").json()
    assert [p["test"] for p in progress["tests"]] == [good]


def test_the_files_athlete_against_the_record_and_an_undated_file(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    imp = imported(owner, athlete["id"], "spiro/zan_ramp")  # the file: male, 66 kg, born 1998; Anna: 58.2 kg, 1994
    warnings = " | ".join(imp["warnings"])
    for code in ("athlete_mismatch:sex", "athlete_mismatch:body_mass", "athlete_mismatch:age"):
        assert code in warnings
    assert "no test date" in warnings
    # each warning also has its stable code and figures, in the same order, with the same English text
    details = imp["warning_details"]
    assert [d["message"] for d in details] == imp["warnings"]
    codes = [d["code"] for d in details]
    assert codes[:2] == ["column_empty", "no_test_date"] and details[0]["params"] == {"column": "hr_bpm"}
    assert {"athlete_mismatch:sex", "athlete_mismatch:body_mass", "athlete_mismatch:age"} <= set(codes[2:])
    listed = owner.get("/api/v1/imports/", {"athlete": athlete["id"]}).json()["results"]
    assert [i["warning_details"] for i in listed if i["id"] == imp["id"]] == [details]
    test = owner.get(f"/api/v1/tests/{imp['test']}/").json()
    assert test["date"] is None and test["body_mass_used_kg"] == 66
    flags = {f["code"] for f in owner.get(f"/api/v1/tests/{imp['test']}/analysis").json()["quality"]["flags"]}
    assert {"athlete_mismatch:sex", "athlete_mismatch:body_mass"} <= flags
    # the date stays editable; the day's body mass beats the file's
    r = owner.patch(f"/api/v1/tests/{imp['test']}/", {"date": "2021-03-17", "body_mass_kg": 64.0}, format="json")
    assert r.status_code == 200, r.content
    res = owner.get(f"/api/v1/tests/{imp['test']}/analysis").json()
    assert res["athlete"]["body_mass_kg"] == 64 and res["athlete"]["body_mass_source"] == "request"
    assert owner.get(f"/api/v1/tests/{imp['test']}/").json()["body_mass_used_kg"] == 64


def test_tenant_analysis_settings(caller, tenant_a, tenant_b, athlete, pipeline):
    owner = caller(tenant_a)
    defaults = owner.get("/api/v1/tests/settings")
    assert defaults.status_code == 200
    assert defaults.json()["zone_model"] == "five_zone" and defaults.json()["meaningful_change_pct"] == 5.0
    body = {"averaging": {"method": "breath", "breaths": 15}, "outliers": {"method": "lamarra", "sd": 3},
            "zone_model": "three_zone", "meaningful_change_pct": 3.0}
    put = owner.put("/api/v1/tests/settings", body, format="json")
    assert put.status_code == 200, put.content
    assert put.json()["averaging"] == {"method": "breath", "breaths": 15} and put.json()["updated_by"] == owner.user_id
    bad = owner.put("/api/v1/tests/settings", {"zone_model": "seven"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "zone_model"
    assert caller(tenant_a, "viewer").put("/api/v1/tests/settings", body, format="json").status_code == 403
    assert caller(tenant_a, "viewer").get("/api/v1/tests/settings").json()["zone_model"] == "three_zone"
    assert caller(tenant_b).get("/api/v1/tests/settings").json()["zone_model"] == "five_zone"  # A's stay A's
    # applied to a new analysis: the result echoes the strategy it used
    test_id = imported(owner, athlete["id"], "spiro/zan_ramp")["test"]
    res = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert res["averaging"]["method"] == "breath" and res["averaging"]["breaths"] == 15
    assert res["averaging"]["outliers"]["method"] == "lamarra" and res["zone_model"] == "three_zone"
    assert owner.get(f"/api/v1/athletes/{athlete['id']}/progress").json()["meaningful_change_pct"] == 3.0
    assert db_count(tenant_a, Sample, test_id=test_id) > 0


def test_reanalysis_on_request_uses_the_current_settings(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    test_id = imported(owner, athlete["id"], "spiro/zan_ramp")["test"]
    first = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert first["averaging"]["method"] == "time"
    same = owner.patch(f"/api/v1/tests/{test_id}/analysis", {"recompute": True}, format="json").json()
    assert same["version"] == 1 and same["recomputed"] is False  # nothing changed: nothing new
    owner.put("/api/v1/tests/settings", {"averaging": {"method": "bin", "seconds": 15}}, format="json")
    again = owner.patch(f"/api/v1/tests/{test_id}/analysis", {"recompute": True}, format="json").json()
    assert again["version"] == 2 and again["recomputed"] is True
    assert again["averaging"]["method"] == "bin" and again["averaging"]["seconds"] == 15
    audit = owner.get(f"/api/v1/tests/{test_id}/analysis/versions").json()["versions"][0]["audit"][0]
    assert audit["action"] == "recompute" and audit["user_id"] == owner.user_id


@pytest.mark.postgres_only  # SQLite runs writers one at a time: the two first writes cannot meet
def test_two_first_analysis_settings_writes_at_once_both_succeed_and_leave_one_row(caller, tenant_a):
    """The first PUT is inside its transaction with the new row inserted when the second arrives: the second waits
    for it on the one-per-tenant constraint, then writes the same row (an insert of its own was a 500)."""
    from measurements.results.models import AnalysisSettings
    from servicekit.testing import two_first_writes_at_once
    from servicekit.tenancy import tenant_transaction

    def put(body):
        return lambda: caller(tenant_a, "admin").put("/api/v1/tests/settings", body, format="json")

    first, second = two_first_writes_at_once(AnalysisSettings, put({"zone_model": "three_zone"}), put({"meaningful_change_pct": 4.0}))
    assert first.status_code == 200, first.content
    assert second.status_code == 200, second.content
    with tenant_transaction(tenant_a):
        [row] = AnalysisSettings.objects.all()
    assert row.meaningful_change_pct == 4.0  # the second PUT's whole settings, written on the first's row
