"""The lab's test workflow (issue 13) through the gateway, in local and SaaS mode: heart rate added to a test, a
declared protocol that drives the analysis, invalid overrides refused with nothing stored, a test that cannot yield
VO2max, and the tenant's analysis defaults."""
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CPET = ROOT / "testdata" / "cpet"
STEPS = {"protocol": "steps", "protocol_start": 50, "protocol_increment": 25, "protocol_stage_length_s": 180,
         "protocol_baseline_s": 120, "protocol_baseline_load": 0}


@pytest.fixture(scope="module")
def athlete(owner):
    created = owner.post("/api/v1/athletes/", {"first_name": "Ilya", "last_name": "Petrov", "sex": "male",
                                               "birth_date": "1998-10-04", "body_mass_kg": 66.0})
    assert created.status_code == 201, created.text
    return created.json()


def imported(api, athlete, name) -> str:
    path = CPET / name
    accepted = api.post("/api/v1/imports/", files={"file": (path.name, path.read_bytes())},
                        data={"athlete": athlete["id"]})
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 90
    while (state := api.get(f"/api/v1/imports/{accepted.json()['id']}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "done", state
    return state["test"]


def add_hr(api, test_id, name="hr_ramp.tcx", content=None, **form):
    content = content if content is not None else (CPET / "spiro" / name).read_bytes()
    return api.post(f"/api/v1/tests/{test_id}/heart-rate", files={"file": (name, content)}, data=form)


def test_heart_rate_onto_zan_ramp_gives_hr_at_thresholds_and_hr_zones(owner, second_lab, athlete):
    test_id = imported(owner, athlete, "spiro/zan_ramp")
    before = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert before["vt1"]["hr_bpm"] is None
    assert add_hr(second_lab, test_id).status_code == 404  # another tenant's test
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<TrainingCenterDatabase>&b;</TrainingCenterDatabase>")
    refused = add_hr(owner, test_id, name="bomb.tcx", content=bomb)
    assert refused.status_code == 422 and refused.json()["type"] == "urn:vo2:problem:xml-entities-forbidden"
    added = add_hr(owner, test_id)
    assert added.status_code == 200, added.text
    assert added.json()["method"] == "correlation" and abs(added.json()["offset_s"]) <= 15
    after = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert after["version"] == before["version"] + 1
    assert after["vt1"]["hr_bpm"] and after["vt2"]["hr_bpm"] and after["vt1"]["hr_bpm"] < after["vt2"]["hr_bpm"]
    assert all(zone["hr_bpm"] for zone in after["zones"]["five_zone"] + after["zones"]["three_zone"])
    assert add_hr(owner, test_id).status_code == 409  # recorded now: replace=true to overwrite


def test_declared_protocol_on_step_cortex_gives_steps_peak_power_and_power_zones(owner, athlete):
    test_id = imported(owner, athlete, "whippr/step_cortex.xlsx")
    assert owner.get(f"/api/v1/tests/{test_id}/analysis").json()["peak"]["power_w"] is None
    wrong = owner.patch(f"/api/v1/tests/{test_id}/", {"protocol": "step"})
    assert wrong.status_code == 400 and "ramp, steps" in wrong.json()["errors"][0]["detail"]
    declared = owner.patch(f"/api/v1/tests/{test_id}/", STEPS)
    assert declared.status_code == 200, declared.text
    result = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert result["version"] == 2 and result["protocol"]["kind"] == "steps"
    assert result["peak"]["power_w"] >= 200
    assert all(zone["power_w"] for zone in result["zones"]["five_zone"] + result["zones"]["three_zone"])
    versions = owner.get(f"/api/v1/tests/{test_id}/analysis/versions").json()["versions"]
    assert versions[0]["audit"][0]["action"] == "protocol"


@pytest.mark.parametrize("body,field", [
    ({"overrides": {"vt1": {"time_s": 5000}}}, "overrides.vt1.time_s"),
    ({"overrides": {"vt1": {"time_s": -10}}}, "overrides.vt1.time_s"),
    ({"overrides": {"vt2": {"time_s": 200}}}, "overrides.vt2.time_s"),
    ({"overrides": {"vt1": {"vo2_ml_min": 7000}}}, "overrides.vt1.vo2_ml_min"),
])
def test_each_invalid_override_is_422_and_the_stored_result_is_unchanged(owner, athlete, body, field):
    test_id = imported(owner, athlete, "spiro/zan_ramp")
    stored = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    refused = owner.patch(f"/api/v1/tests/{test_id}/analysis", body)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:vo2:problem:invalid-override" and problem["errors"][0]["field"] == field
    assert refused.headers["content-type"].startswith("application/problem+json")
    now = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert now["version"] == stored["version"] and now["vt1"] == stored["vt1"] and now["vt2"] == stored["vt2"]


def test_an_excerpt_is_stored_as_insufficient(owner, athlete):
    test_id = imported(owner, athlete, "spiro/cortex.xml")
    test = owner.get(f"/api/v1/tests/{test_id}").json()
    assert test["status"] == "insufficient" and "too_short" in {r["code"] for r in test["insufficient_reasons"]}
    result = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert result["status"] == "insufficient"
    progress = owner.get(f"/api/v1/athletes/{athlete['id']}/progress").json()
    assert test_id not in [p["test"] for p in progress["tests"]]
    before = owner.get("/api/v1/reports/", params={"test": test_id}).json()["results"]
    refused = owner.post("/api/v1/reports/", {"test": test_id, "language": "ru", "template": "full"})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "urn:vo2:problem:test-not-analysable"
    assert owner.get("/api/v1/reports/", params={"test": test_id}).json()["results"] == before  # nothing stored


def test_tenant_analysis_settings_through_the_gateway(owner, second_lab):
    put = owner.put("/api/v1/tests/settings", {"zone_model": "three_zone", "meaningful_change_pct": 4.0})
    assert put.status_code == 200, put.text
    assert owner.get("/api/v1/tests/settings").json()["zone_model"] == "three_zone"
    assert second_lab.get("/api/v1/tests/settings").json()["zone_model"] == "five_zone"
    owner.put("/api/v1/tests/settings", {})  # back to the defaults for the other tests


def test_litres_under_a_millilitre_header_are_converted_not_reported_as_3_9(owner, athlete):
    rows = ["Time (s);VO2 (ml/min);VCO2 (ml/min);VE (l/min);HR (bpm);Power (W)"]
    for i in range(150):  # 12.5 min: 2 min rest, then a ramp to 3.9 L/min
        vo2 = 0.4 if i < 24 else 0.4 + 3.5 * (i - 24) / 125
        rows.append(f"{i * 5};{vo2:.3f};{vo2 * 0.95:.3f};{vo2 * 30:.1f};{70 + i};{0 if i < 24 else (i - 24) * 2}")
    content = "\n".join(rows).encode()
    accepted = owner.post("/api/v1/imports/", files={"file": ("litres.csv", content)}, data={"athlete": athlete["id"]})
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 90
    while (state := owner.get(f"/api/v1/imports/{accepted.json()['id']}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "done", state
    assert any("header says mL/min" in w and "converted" in w for w in state["warnings"])
    vo2max = owner.get(f"/api/v1/tests/{state['test']}/analysis").json()["vo2max"]["vo2_ml_min"]
    assert 3500 < vo2max < 4100  # mL/min, never 3.9


def test_the_files_athlete_against_the_record(owner):
    anna = owner.post("/api/v1/athletes/", {"first_name": "Anna", "last_name": "Ivanova", "sex": "female",
                                            "birth_date": "1994-03-12", "body_mass_kg": 58.2}).json()
    path = CPET / "spiro/zan_ramp"  # the file's header: male, 66 kg, born 1998-10-04; no test date
    accepted = owner.post("/api/v1/imports/", files={"file": (path.name, path.read_bytes())},
                          data={"athlete": anna["id"]})
    deadline = time.monotonic() + 90
    while (state := owner.get(f"/api/v1/imports/{accepted.json()['id']}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "done", state
    warned = " | ".join(state["warnings"])
    assert all(f"athlete_mismatch:{what}" in warned for what in ("sex", "body_mass", "age"))
    assert "no test date" in warned
    test = owner.get(f"/api/v1/tests/{state['test']}").json()
    assert test["date"] is None and test["body_mass_used_kg"] == 66
    flags = {f["code"] for f in owner.get(f"/api/v1/tests/{state['test']}/analysis").json()["quality"]["flags"]}
    assert {"athlete_mismatch:sex", "athlete_mismatch:body_mass", "athlete_mismatch:age"} <= flags
