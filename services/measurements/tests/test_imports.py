"""Upload → background import → stored samples and analysis, against the real analysis service."""
from pathlib import Path

import pytest

from measurements.exercise_tests.models import ExerciseTest, Sample
from measurements.imports.models import Import
from measurements.results.models import AnalysisResult

from .conftest import CPET, db_count, outbox, upload

pytestmark = pytest.mark.django_db(transaction=True)

# (file, expected format, expected sample count (rows with a time), plausible VO2max range in ml/min)
REFERENCE_FILES = [
    ("spiro/zan_ramp", "zan", (3000, 6000)),
    ("gasexchanger/Anton_vo2max.txt", "medgraphics", (3000, 6000)),
    ("whippr/step_cortex.xlsx", "cortex", (1500, 6500)),
]


@pytest.mark.parametrize("name,fmt,vo2_range", REFERENCE_FILES)
def test_reference_file_is_imported_stored_and_analysed(caller, tenant_a, athlete, pipeline, name, fmt, vo2_range):
    owner = caller(tenant_a)
    accepted = upload(owner, athlete["id"], CPET / name)
    assert accepted.status_code == 202, accepted.content
    assert accepted.json()["status"] == "queued" and accepted["Location"].endswith(accepted.json()["id"])
    imp = owner.get(f"/api/v1/imports/{accepted.json()['id']}").json()
    assert imp["status"] == "done", imp
    assert imp["progress"] == 100 and imp["detected_format"] == fmt and imp["error"] is None
    test = owner.get(f"/api/v1/tests/{imp['test']}/").json()
    assert test["status"] == "analyzed" and test["source_format"] == fmt

    samples = owner.get(f"/api/v1/tests/{imp['test']}/samples").json()
    stored = db_count(tenant_a, Sample, test_id=imp["test"])
    assert stored == test["sample_count"] == samples["count"] > 10
    assert samples["columns"]["time_s"] == sorted(samples["columns"]["time_s"])

    analysis = owner.get(f"/api/v1/tests/{imp['test']}/analysis").json()
    assert vo2_range[0] < analysis["vo2max"]["vo2_ml_min"] < vo2_range[1]
    assert analysis["version"] == 1 and analysis["engine_version"] and analysis["overrides"] == {}
    assert {"vt1", "vt2", "zones", "quality", "computed_at"} <= set(analysis)
    # the body mass used: the file's when it states one (the day's), else the athlete's record (58.2 kg); stored
    used, source = analysis["athlete"]["body_mass_kg"], analysis["athlete"]["body_mass_source"]
    assert test["body_mass_used_kg"] == used
    if name == "spiro/zan_ramp":  # its header: 66 kg
        assert (source, used) == ("file", 66)
    else:
        assert source == "file" or (source, used) == ("record", 58.2)
    assert analysis["vo2max"]["vo2_ml_kg_min"] == pytest.approx(analysis["vo2max"]["vo2_ml_min"] / used, abs=0.06)
    assert [t for t, _ in outbox()] == ["measurements.test.imported", "measurements.test.analyzed"]
    imported, analyzed = outbox()[0][1], outbox()[1][1]
    assert imported["test_id"] == imp["test"] and imported["sample_count"] == stored and imported["format"] == fmt
    assert analyzed["revision"] == 1 and analyzed["vo2max_ml_kg_min"] == analysis["vo2max"]["vo2_ml_kg_min"]
    # each stage the job took, for the uploader's live stream (notifications)
    progressed = [d for _, d in outbox("measurements.import.progressed")]
    assert [(d["stage"], d["progress"]) for d in progressed] == [("parsing", 10), ("storing", 40), ("analyzing", 70)]
    assert {(d["import_id"], d["athlete_id"], d["imported_by"], d["generation"]) for d in progressed} == {
        (imp["id"], athlete["id"], owner.user_id, 1)}


def broken_zan() -> bytes:
    lines = (CPET / "spiro" / "zan_ramp").read_bytes().split(b"\n")
    rows = [k for k, line in enumerate(lines) if line.count(b",") > 20]
    lines[rows[5]] = lines[rows[5]][: len(lines[rows[5]]) // 2]  # a data line cut in half
    return b"\n".join(lines), rows[5] + 1


@pytest.mark.parametrize("case", ["cut-line", "truncated-xml", "not-an-export"])
def test_broken_file_fails_with_a_useful_message_and_stores_nothing(caller, tenant_a, athlete, pipeline, case):
    if case == "cut-line":
        data, line = broken_zan()
        name, expect = "zan_ramp", f"line {line}"
    elif case == "truncated-xml":
        data, name, expect = (CPET / "spiro" / "cortex.xml").read_bytes()[:30000], "cortex.xml", "line 513"
    else:
        data, name, expect = b"hello\nthis is no cart export\n", "notes.txt", "no known cart layout"
    owner = caller(tenant_a)
    accepted = upload(owner, athlete["id"], (name, data))
    assert accepted.status_code == 202
    imp = owner.get(f"/api/v1/imports/{accepted.json()['id']}").json()
    assert imp["status"] == "failed" and imp["test"] is None
    assert expect in imp["error"]["detail"] and imp["error"]["stage"] == "parsing"
    assert imp["error"]["type"].startswith("urn:vo2:problem:") and imp["error"]["status"] == 422
    assert db_count(tenant_a, Sample) == 0 and db_count(tenant_a, ExerciseTest) == 0
    assert owner.get("/api/v1/tests/").json()["results"] == []
    # only the failure is told (notifications and webhooks), with the reason and the athlete's name
    [(kind, failed)] = outbox()
    assert kind == "measurements.import.failed" and failed["import_id"] == imp["id"] and "test_id" not in failed
    assert expect in failed["detail"] and failed["stage"] == "parsing" and failed["athlete_name"] == "Anna Ivanova"
    assert failed["error_code"] == imp["error"]["type"].rsplit(":", 1)[-1]


def test_same_idempotency_key_gives_the_same_import_and_one_test(caller, tenant_a, tenant_b, athlete, pipeline):
    owner = caller(tenant_a)
    first = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt", key="upload-42")
    again = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt", key="upload-42")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    other = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt", key="upload-43")
    assert other.json()["id"] != first.json()["id"]
    assert db_count(tenant_a, ExerciseTest) == 2  # two keys, two tests; the repeated key added none
    assert db_count(tenant_a, Import) == 2
    # the same key in another tenant is another import (keys are per tenant)
    b_owner = caller(tenant_b)
    b_athlete = b_owner.post("/api/v1/athletes/", {"first_name": "B", "last_name": "B", "sex": "male"},
                             format="json").json()
    in_b = upload(b_owner, b_athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt", key="upload-42")
    assert in_b.status_code == 202 and in_b.json()["id"] != first.json()["id"]


def test_the_same_key_with_another_file_is_422_and_stores_nothing(caller, tenant_a, athlete, settings):
    from pathlib import Path

    owner = caller(tenant_a)
    first = upload(owner, athlete["id"], ("ramp.csv", b"t,vo2\n0,1.0\n"), key="upload-7")
    other = upload(owner, athlete["id"], ("ramp.csv", b"t,vo2\n0,2.0\n"), key="upload-7")
    assert first.status_code == 202
    assert other.status_code == 422 and other["Content-Type"] == "application/problem+json"
    assert other.json()["type"] == "urn:vo2:problem:idempotency-key-reused"
    assert db_count(tenant_a, Import) == 1
    # the refused upload's copy of the file is gone again: only the first import's folder is kept
    assert [p.name for p in (Path(settings.UPLOADS_DIR) / tenant_a).iterdir()] == [first.json()["id"]]


def test_upload_larger_than_the_limit_is_refused_early(caller, tenant_a, athlete, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    response = upload(caller(tenant_a), athlete["id"], ("big.csv", b"x" * 200_000))
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:vo2:problem:payload-too-large"
    assert db_count(tenant_a, Import) == 0


def test_upload_handler_stops_a_body_without_content_length_at_the_limit():
    from django.test import RequestFactory

    from measurements.imports.api import SizeLimitUploadHandler
    from servicekit.problems import ProblemError

    handler = SizeLimitUploadHandler(RequestFactory().post("/"), limit=100)
    assert handler.receive_data_chunk(b"a" * 60, 0) == b"a" * 60
    with pytest.raises(ProblemError) as raised:
        handler.receive_data_chunk(b"a" * 60, 60)
    assert raised.value.status == 413


def test_missing_file_or_foreign_athlete_is_a_validation_problem(caller, tenant_a, tenant_b, athlete):
    owner = caller(tenant_a)
    response = owner.post("/api/v1/imports/", {"athlete": athlete["id"]}, format="multipart")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "file"
    b_athlete = caller(tenant_b).post("/api/v1/athletes/", {"first_name": "B", "last_name": "B", "sex": "male"},
                                      format="json").json()
    response = upload(owner, b_athlete["id"], CPET / "spiro" / "cortex.xml")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "athlete"


def test_stored_file_lets_an_import_be_rerun(caller, tenant_a, athlete, pipeline, settings):
    owner = caller(tenant_a)
    imp = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt").json()
    folder = Path(settings.UPLOADS_DIR) / tenant_a / imp["id"]
    assert [p.name for p in folder.iterdir()] == ["Anton_vo2max.txt"]
    done = owner.get(f"/api/v1/imports/{imp['id']}").json()
    rerun = owner.post(f"/api/v1/imports/{imp['id']}/rerun")
    assert rerun.status_code == 202 and rerun.json()["generation"] == 2
    after = owner.get(f"/api/v1/imports/{imp['id']}").json()
    assert after["status"] == "done" and after["test"] == done["test"]
    assert db_count(tenant_a, ExerciseTest) == 1
    assert db_count(tenant_a, Sample) == owner.get(f"/api/v1/tests/{done['test']}/").json()["sample_count"]
    # same data, same overrides, same engine: the stored result stands (no second version)
    assert owner.get(f"/api/v1/tests/{done['test']}/analysis").json()["version"] == 1
    assert [t for t, _ in outbox()] == ["measurements.test.imported", "measurements.test.analyzed",
                                        "measurements.test.imported"]


def test_analysis_refusing_the_stored_data_removes_the_test_again(caller, tenant_a, athlete, pipeline, monkeypatch):
    from servicekit import http

    from measurements.results import analysis

    def refuse(*args, **kwargs):
        raise http.Refused(422, {"type": "urn:vo2:problem:validation-error", "status": 422,
                                 "detail": "samples.vo2_ml_min: line 17: not a number"})

    monkeypatch.setattr(analysis, "cpet", refuse)
    owner = caller(tenant_a)
    imp = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt").json()
    imp = owner.get(f"/api/v1/imports/{imp['id']}").json()
    assert imp["status"] == "failed" and imp["error"]["stage"] == "analyzing"
    assert "line 17" in imp["error"]["detail"] and imp["test"] is None
    assert db_count(tenant_a, Sample) == 0 and db_count(tenant_a, ExerciseTest) == 0
    # the file stays for a re-run, which succeeds once the analysis accepts the data
    monkeypatch.undo()
    assert owner.post(f"/api/v1/imports/{imp['id']}/rerun").status_code == 202
    assert owner.get(f"/api/v1/imports/{imp['id']}").json()["status"] == "done"
    assert db_count(tenant_a, ExerciseTest) == 1


def test_redelivered_job_completes_exactly_once(caller, tenant_a, athlete, pipeline, settings, monkeypatch):
    """A worker dies after storing the samples (late ack → the broker delivers the job again)."""
    from measurements.imports import pipeline as import_pipeline
    from measurements.results import actions as result_actions

    settings.IMPORT_DISPATCH = "none"
    owner = caller(tenant_a)
    imp = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt").json()
    assert owner.get(f"/api/v1/imports/{imp['id']}").json()["status"] == "queued"

    real = result_actions.call_analysis
    monkeypatch.setattr(result_actions, "call_analysis", lambda *a, **k: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        import_pipeline.run_import(imp["id"], tenant_a)
    half = owner.get(f"/api/v1/imports/{imp['id']}").json()
    assert half["status"] == "analyzing" and half["test"]
    monkeypatch.setattr(result_actions, "call_analysis", real)
    assert import_pipeline.run_import(imp["id"], tenant_a) == "done"      # the redelivery
    assert import_pipeline.run_import(imp["id"], tenant_a) == "done"      # and a duplicate: no effect
    assert db_count(tenant_a, ExerciseTest) == 1 and db_count(tenant_a, AnalysisResult) == 1
    assert db_count(tenant_a, Sample) == owner.get(f"/api/v1/tests/{half['test']}/").json()["sample_count"]
    assert [t for t, _ in outbox()] == ["measurements.test.imported", "measurements.test.analyzed"]
    assert owner.get(f"/api/v1/imports/{imp['id']}").json()["attempts"] == 2


def test_unreachable_analysis_is_retried_then_failed_without_leftovers(caller, tenant_a, athlete, pipeline, settings):
    from servicekit.testing import free_port

    from servicekit import jobs

    from measurements.imports import pipeline as import_pipeline
    from measurements.imports import tasks

    settings.IMPORT_DISPATCH = "none"
    settings.ANALYSIS_URL = f"http://127.0.0.1:{free_port()}"
    owner = caller(tenant_a)
    imp = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt").json()
    with pytest.raises(jobs.RetryLater):
        import_pipeline.run_import(imp["id"], tenant_a)
    assert owner.get(f"/api/v1/imports/{imp['id']}").json()["status"] == "parsing"
    assert tasks.run_import.run(imp["id"], tenant_a, final=True) == "failed"
    failed = owner.get(f"/api/v1/imports/{imp['id']}").json()
    assert failed["error"]["status"] == 503 and "unreachable" in failed["error"]["detail"]
    assert db_count(tenant_a, ExerciseTest) == 0


def test_import_list_and_athlete_role_visibility(caller, tenant_a, athlete, pipeline, directory):
    owner = caller(tenant_a)
    upload(owner, athlete["id"], CPET / "spiro" / "cortex.xml")
    assert len(owner.get("/api/v1/imports/").json()["results"]) == 1
    assert owner.get("/api/v1/imports/?status=done").json()["results"][0]["status"] == "done"
    by_athlete = owner.get(f"/api/v1/imports/?athlete={athlete['id']}&status=done")
    assert by_athlete.status_code == 200 and len(by_athlete.json()["results"]) == 1, by_athlete.content
    other = owner.post("/api/v1/athletes/", {"first_name": "Olga", "last_name": "Other", "sex": "female"},
                       format="json").json()
    assert owner.get(f"/api/v1/imports/?athlete={other['id']}").json()["results"] == []
    stranger = caller(tenant_a, "athlete")
    assert stranger.get("/api/v1/imports/").json()["results"] == []
    me = caller(tenant_a, "athlete")
    directory.add(me)
    owner.patch(f"/api/v1/athletes/{athlete['id']}/", {"user_id": me.user_id}, format="json")
    assert len(me.get("/api/v1/imports/").json()["results"]) == 1
