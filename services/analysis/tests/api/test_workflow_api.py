"""The lab's workflow over HTTP (issue 13): heart rate put onto a test, a declared protocol, overrides refused as
422 invalid-override, insufficient tests, the athlete on record, and numbers rounded to what they mean."""
import json
from pathlib import Path

import pytest

from servicekit.testing import SigningKeys

from .conftest import signed_in_client

TESTDATA = Path(__file__).resolve().parents[4] / "testdata" / "cpet"
STEPS = {"kind": "steps", "start": 50, "increment": 25, "stage_length_s": 180, "baseline_s": 120, "baseline_load": 0}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    with signed_in_client(SigningKeys(tmp_path_factory.mktemp("keys")), mp) as c:
        yield c
    mp.undo()


def parse(client, name):
    data = (TESTDATA / name).read_bytes()
    r = client.post("/api/v1/analysis/parse", files={"file": (Path(name).name, data)})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def zan_ramp(client):
    return parse(client, "spiro/zan_ramp")


def align(client, test, track=("hr_ramp.tcx", (TESTDATA / "spiro/hr_ramp.tcx").read_bytes()), **form):
    return client.post("/api/v1/analysis/heart-rate/align", files={"file": track},
                       data={"test": json.dumps(test), **form})


def test_heart_rate_aligned_onto_the_test_then_thresholds_carry_hr(client, zan_ramp):
    s = zan_ramp["samples"]
    r = align(client, {"time_s": s["time_s"], "vo2_ml_min": s["vo2_ml_min"]})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["format"] == "tcx" and a["method"] == "correlation" and abs(a["offset_s"]) <= 15
    assert a["correlation"] > 0.9 and a["coverage"] > 0.95 and len(a["hr_bpm"]) == len(s["time_s"])
    assert all(v is None or v == round(v) for v in a["hr_bpm"])  # 1 bpm
    given = align(client, {"time_s": s["time_s"]}, offset_s="0").json()
    assert given["method"] == "offset" and given["offset_s"] == 0
    stamped = align(client, {"time_s": s["time_s"], "start": "2021-03-17T10:54:46Z"}).json()
    assert stamped["method"] == "timestamps" and stamped["offset_s"] == 10
    late = align(client, {"time_s": s["time_s"]}, offset_s="300").json()  # the track starts 5 min into the test
    assert late["warning_details"][-1]["code"] == "hr_track_coverage"
    assert late["warning_details"][-1]["message"] == late["warnings"][-1] == \
        f"the heart-rate track covers {late['warning_details'][-1]['params']['coverage_pct']} % of the test"
    result = client.post("/api/v1/analysis/cpet", json={"samples": {**s, "hr_bpm": given["hr_bpm"]},
                                                        "athlete": {"body_mass_kg": 66}}).json()
    assert result["vt1"]["hr_bpm"] and result["vt2"]["hr_bpm"]
    assert all(z["hr_bpm"] for z in result["zones"]["three_zone"])


def test_heart_rate_align_refuses_bad_input(client, zan_ramp, monkeypatch):
    s = zan_ramp["samples"]
    test = {"time_s": s["time_s"], "vo2_ml_min": s["vo2_ml_min"]}
    junk = align(client, test, track=("x.fit", b"\x00\xff" * 300))
    assert junk.status_code == 422 and junk.headers["content-type"].startswith("application/problem+json")
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<TrainingCenterDatabase>&b;</TrainingCenterDatabase>")
    assert align(client, test, track=("x.tcx", bomb)).json()["type"] == "urn:vo2:problem:xml-entities-forbidden"
    cart = align(client, test, track=("cortex.xml", (TESTDATA / "spiro/cortex.xml").read_bytes()))
    assert cart.status_code == 422 and cart.json()["type"] == "urn:vo2:problem:unknown-format"
    bad_test = align(client, {"time_s": [1, 2]})
    assert bad_test.status_code == 400 and bad_test.json()["errors"][0]["field"].startswith("test")
    assert align(client, test, offset_s="5000").json()["type"] == "urn:vo2:problem:heart-rate-no-overlap"
    assert align(client, "not json").status_code == 400
    from analysis import api

    monkeypatch.setattr(api, "MAX_UPLOAD_BYTES", 2048)
    big = align(client, test)
    assert big.status_code == 413 and big.json()["type"] == "urn:vo2:problem:file-too-large"


def test_declared_protocol_through_the_api(client):
    table = parse(client, "whippr/step_cortex.xlsx")
    r = client.post("/api/v1/analysis/cpet", json={"samples": table["samples"], "protocol": STEPS})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["protocol"]["kind"] == "steps" and res["peak"]["power_w"] >= 200
    assert all(z["power_w"] for z in res["zones"]["five_zone"])
    wrong = client.post("/api/v1/analysis/cpet", json={"samples": table["samples"], "protocol": STEPS | {"kind": "step"}})
    assert wrong.status_code == 400
    body = wrong.json()
    assert body["errors"][0]["field"] == "protocol.kind" and "'ramp' or 'steps'" in body["errors"][0]["detail"]


@pytest.mark.parametrize("overrides,field", [
    ({"vt1": {"time_s": 5000}}, "overrides.vt1.time_s"),
    ({"vt1": {"time_s": -10}}, "overrides.vt1.time_s"),
    ({"vt2": {"time_s": 200}}, "overrides.vt2.time_s"),
    ({"vo2max": {"vo2_ml_min": 4000}}, "overrides.vo2max.reason"),
    ({"exclude": [[0, 5000]]}, "overrides.exclude[0]"),
])
def test_invalid_overrides_are_422_naming_the_field(client, zan_ramp, overrides, field):
    r = client.post("/api/v1/analysis/cpet", json={"samples": zan_ramp["samples"], "overrides": overrides})
    assert r.status_code == 422
    p = r.json()
    assert p["type"] == "urn:vo2:problem:invalid-override" and p["errors"][0]["field"] == field


def test_speed_override_derives_time_and_vo2(client, zan_ramp):
    r = client.post("/api/v1/analysis/cpet", json={"samples": zan_ramp["samples"],
                                                   "overrides": {"vt1": {"speed_kmh": 12.5}}})
    vt1 = r.json()["vt1"]
    assert vt1["speed_kmh"] == 12.5 and vt1["time_s"] is not None and vt1["vo2_ml_min"] is not None


def test_an_excerpt_is_insufficient_through_the_api(client):
    r = client.post("/api/v1/analysis/cpet/file",
                    files={"file": ("cortex.xml", (TESTDATA / "spiro/cortex.xml").read_bytes())})
    res = r.json()["result"]
    assert res["status"] == "insufficient" and res["insufficient_reasons"][0]["code"]


def test_the_record_is_compared_with_the_file(client, zan_ramp):
    r = client.post("/api/v1/analysis/cpet", json={
        "samples": zan_ramp["samples"], "file_metadata": zan_ramp["metadata"],
        "athlete_record": {"sex": "female", "body_mass_kg": 58.2, "birth_date": "1994-03-12"}})
    res = r.json()
    codes = {f["code"] for f in res["quality"]["flags"]}
    assert {"athlete_mismatch:sex", "athlete_mismatch:body_mass", "athlete_mismatch:age"} <= codes
    assert res["athlete"]["body_mass_kg"] == 66 and res["athlete"]["body_mass_source"] == "file"
    assert res["vo2max"]["vo2_ml_kg_min"] == round(res["vo2max"]["vo2_ml_kg_min"], 1)


def test_numbers_are_rounded_to_what_they_mean(client, zan_ramp):
    body = {"samples": zan_ramp["samples"], "athlete": {"body_mass_kg": 66}}
    shown = client.post("/api/v1/analysis/cpet", json=body).json()
    full = client.post("/api/v1/analysis/cpet", json=body | {"precision": "full"}).json()
    for name in ("vt1", "vt2"):
        for key, decimals in (("vo2_ml_min", 0), ("time_s", 0), ("speed_kmh", 1), ("vo2_ml_kg_min", 1),
                              ("vo2_pct_max", 1)):
            assert shown[name][key] == round(full[name][key], decimals), (name, key)
    assert shown["vo2max"]["vo2_ml_min"] == round(full["vo2max"]["vo2_ml_min"])
    assert shown["peak"]["rer"] == round(full["peak"]["rer"], 2)
    assert full["vo2max"]["vo2_ml_min"] != round(full["vo2max"]["vo2_ml_min"])  # the engine keeps its digits
