"""The lab's workflow in the engine (issue 13): a declared protocol rebuilds the load, overrides are checked
against the test, a test that cannot yield VO2max says so, the file's athlete is compared with the record,
and a heart-rate track is put onto the test."""
import json
from pathlib import Path

import numpy as np
import pytest

from analysis.engine import analyze_cpet
from analysis.engine.heart_rate import AlignmentError, align
from analysis.engine.overrides import InvalidOverride
from analysis.engine.synthetic import ramp_test
from analysis.formats import read_export, read_heart_rate

CPET = Path(__file__).resolve().parents[4] / "testdata" / "cpet"
STEP_CORTEX = {"kind": "steps", "start": 50, "increment": 25, "stage_length_s": 180, "baseline_s": 120,
               "baseline_load": 0}


def table(name):
    return read_export((CPET / name).read_bytes(), filename=name).to_wire()


@pytest.fixture(scope="module")
def step_cortex():
    return table("whippr/step_cortex.xlsx")


@pytest.fixture(scope="module")
def zan_ramp_hr():
    """spiro's zan_ramp with its chest-strap track (hr_ramp.tcx, recorded from t = 0) on it."""
    w = table("spiro/zan_ramp")
    track = read_heart_rate((CPET / "spiro/hr_ramp.tcx").read_bytes(), "hr_ramp.tcx")
    t = np.asarray(w["samples"]["time_s"], float)
    a = align(t, None, track.time_s, track.hr_bpm, offset_s=0)
    return {**w["samples"], "hr_bpm": a["hr_bpm"]}, w["metadata"]


def run(samples, **kw):
    r = analyze_cpet(samples, kw.pop("athlete", {"body_mass_kg": 66}), **kw)
    json.dumps(r, allow_nan=False)
    return r


# ------------------------------------------------------------------ declared protocol
def test_declared_steps_rebuild_the_load_of_a_file_without_one(step_cortex):
    assert step_cortex["samples"]["power_w"] is None  # whippr's CORTEX step test logs no load
    plain = run(step_cortex["samples"])
    assert plain["protocol"]["kind"] == "unknown" and plain["peak"]["power_w"] is None
    r = run(step_cortex["samples"], declared_protocol=STEP_CORTEX)
    p = r["protocol"]
    assert p["kind"] == "steps" and p["load_source"] == "declared" and p["load_channel"] == "power_w"
    assert p["start"] == 50 and p["increment"] == 25 and p["stage_length_s"] == pytest.approx(180, abs=3)
    assert any(f["code"] == "load_from_declared_protocol" for f in r["quality"]["flags"])
    # stages as declared: 50, 75, 100 ... W, 180 s each after 120 s of baseline
    loads = [s["load"] for s in p["stages"]]
    assert loads == [50 + 25 * i for i in range(len(loads))] and len(loads) >= 6
    t0 = step_cortex["samples"]["time_s"][0]
    assert p["stages"][0]["start_s"] == pytest.approx(t0 + 120, abs=5)  # the first breath on the stage
    # peak power: the stage in progress at the end of exercise
    end = p["incremental"]["end_s"]
    assert r["peak"]["power_w"] == 50 + 25 * int((end - t0 - 120) // 180)
    for zone in r["zones"]["five_zone"] + r["zones"]["three_zone"]:
        assert zone["power_w"] is not None and zone["power_w"][0] <= zone["power_w"][1]
    assert r["vt1"]["power_w"] in loads and r["vt2"]["power_w"] in loads
    assert r["vt1"]["power_w"] < r["vt2"]["power_w"] <= r["peak"]["power_w"]


def test_declared_ramp_rebuilds_a_linear_load():
    s, truth = ramp_test(3)
    no_load = {**s, "power_w": None}
    declared = {"kind": "ramp", "start": truth["start_w"], "increment": truth["ramp_w_min"],
                "baseline_s": truth["rest_s"], "baseline_load": 0}
    r = run(no_load, declared_protocol=declared)
    assert r["protocol"]["kind"] == "ramp" and r["protocol"]["load_source"] == "declared"
    logged = run(s)
    assert r["peak"]["power_w"] == pytest.approx(logged["peak"]["power_w"], rel=0.05)
    assert r["vt1"]["power_w"] == pytest.approx(logged["vt1"]["power_w"], rel=0.08)


def test_a_logged_load_is_never_replaced(step_cortex):
    s, _ = ramp_test(1)
    r = run(s, declared_protocol=STEP_CORTEX | {"kind": "ramp"})
    assert r["protocol"].get("load_source") is None
    assert not any(f["code"] == "load_from_declared_protocol" for f in r["quality"]["flags"])


# ------------------------------------------------------------------ overrides
def refused(samples, overrides, **kw):
    with pytest.raises(InvalidOverride) as exc:
        run(samples, overrides=overrides, **kw)
    (err,) = exc.value.errors
    assert err["field"].startswith("overrides.") and err["detail"]
    return err


def test_threshold_overrides_outside_the_test_or_phase_are_refused(zan_ramp_hr):
    samples, _ = zan_ramp_hr
    auto = run(samples)
    inc = auto["protocol"]["incremental"]
    for bad in (5000, -10):
        err = refused(samples, {"vt1": {"time_s": bad}})
        assert err["field"] == "overrides.vt1.time_s"
        assert err["allowed"]["min"] == pytest.approx(inc["start_s"], abs=0.1)
        assert err["allowed"]["max"] == pytest.approx(inc["end_s"], abs=0.1) and err["allowed"]["unit"] == "s"
    err = refused(samples, {"vt1": {"hr_bpm": 300}})
    assert err["field"] == "overrides.vt1.hr_bpm" and err["allowed"]["max"] <= 250
    err = refused(samples, {"vt1": {"speed_kmh": 40}})
    assert err["field"] == "overrides.vt1.speed_kmh"
    assert refused(samples, {"vt1": {"power_w": 200}})["detail"].startswith("the test has no power_w")
    assert refused(samples, {"vt1": {"watts": 200}})["field"] == "overrides.vt1.watts"
    assert refused(samples, {"vt3": {"time_s": 400}})["field"] == "overrides.vt3"


def test_vt2_at_or_before_vt1_is_refused(zan_ramp_hr):
    samples, _ = zan_ramp_hr
    auto = run(samples)
    err = refused(samples, {"vt2": {"time_s": 200}})  # inside the phase, before the automatic VT1
    assert err["field"] == "overrides.vt2.time_s" and "VT1" in err["detail"]
    err = refused(samples, {"vt1": {"time_s": 500}, "vt2": {"time_s": 500}})
    assert err["field"] == "overrides.vt2.time_s"
    assert auto["vt1"]["time_s"] < auto["vt2"]["time_s"]


def test_vt1_above_vo2max_is_refused(zan_ramp_hr):
    samples, _ = zan_ramp_hr
    auto = run(samples)
    err = refused(samples, {"vt1": {"time_s": auto["vt1"]["time_s"]},
                            "vo2max": {"vo2_ml_min": auto["vt1"]["vo2_ml_min"] - 50, "reason": "verification"}})
    assert err["field"] == "overrides.vt1.time_s" and "VO2max" in err["detail"]


def test_a_threshold_set_by_any_channel_gets_the_others_inside_the_phase(zan_ramp_hr):
    samples, _ = zan_ramp_hr
    auto = run(samples)
    inc = auto["protocol"]["incremental"]
    for key, value in (("speed_kmh", 12.5), ("hr_bpm", 170), ("vo2_ml_min", 3600), ("time_s", 420)):
        r = run(samples, overrides={"vt1": {key: value}})
        vt1 = r["vt1"]
        assert vt1["manual"] and vt1["set_by"] == key and vt1[key] == value
        assert inc["start_s"] <= vt1["time_s"] <= inc["end_s"]
        for other in ("time_s", "vo2_ml_min", "hr_bpm", "speed_kmh"):
            assert vt1[other] is not None, (key, other)
        assert r["zones"]["three_zone"][0]["hr_bpm"] is not None
    # set by speed: the first moment of the incremental phase the averaged speed reaches 12.5 km/h
    r = run(samples, overrides={"vt1": {"speed_kmh": 12.5}})
    assert r["vt1"]["time_s"] > inc["start_s"] and abs(r["vt1"]["speed_kmh"] - 12.5) < 1e-9


def test_vo2max_override_needs_a_reason_and_keeps_the_measured_peak(zan_ramp_hr):
    samples, _ = zan_ramp_hr
    auto = run(samples)
    assert refused(samples, {"vo2max": {"vo2_ml_min": 5200}})["field"] == "overrides.vo2max.reason"
    err = refused(samples, {"vo2max": {"vo2_ml_min": 9000, "reason": "x"}})
    assert err["field"] == "overrides.vo2max.vo2_ml_min" and err["allowed"] == {"min": 50, "max": 8000,
                                                                                "unit": "mL/min"}
    r = run(samples, overrides={"vo2max": {"vo2_ml_min": 5200, "reason": "verification bout at 110 %"}})
    v = r["vo2max"]
    assert v["vo2_ml_min"] == 5200 and v["manual"] and v["reason"] == "verification bout at 110 %"
    assert v["detected_vo2_ml_min"] == auto["vo2max"]["vo2_ml_min"]
    assert v["vo2_ml_kg_min"] == pytest.approx(5200 / 66)
    assert r["vt1"]["vo2_pct_max"] == pytest.approx(100 * r["vt1"]["vo2_ml_min"] / 5200)


def test_excluded_ranges_must_lie_inside_the_test(zan_ramp_hr):
    samples, _ = zan_ramp_hr
    t = samples["time_s"]
    err = refused(samples, {"exclude": [[800, 900]]})
    assert err["field"] == "overrides.exclude[0]"
    assert err["allowed"]["min"] == pytest.approx(t[0], abs=0.1) and err["allowed"]["max"] == pytest.approx(t[-1], abs=0.1)
    assert refused(samples, {"exclude": [[300, 200]]})["field"] == "overrides.exclude[0]"
    assert refused(samples, {"exclude": [[100, 120], [1]]})["field"] == "overrides.exclude[1]"
    assert run(samples, overrides={"exclude": [[300, 320]]})["quality"]["excluded_breaths"] > 0


# ------------------------------------------------------------------ usable or not
def test_an_excerpt_is_insufficient():
    w = table("spiro/cortex.xml")  # 70 s: 60 s rest, 8 s at 50 W
    r = run(w["samples"], athlete={"body_mass_kg": 74.8})
    assert r["status"] == "insufficient"
    assert "too_short" in {x["code"] for x in r["insufficient_reasons"]}


def test_seven_averaged_rows_are_insufficient():
    r = run(table("spiro/vyntus.txt")["samples"])
    assert r["status"] == "insufficient" and r["insufficient_reasons"]


def test_negative_or_litre_vo2_is_insufficient():
    s, _ = ramp_test(2)
    neg = {**s, "vo2_ml_min": [-abs(v) for v in s["vo2_ml_min"]]}
    r = run(neg)
    assert r["status"] == "insufficient"
    litres = {**s, "vo2_ml_min": [v / 1000 for v in s["vo2_ml_min"]]}
    r = run(litres)
    assert r["status"] == "insufficient"
    assert {"units_unresolved", "implausible_range"} & {x["code"] for x in r["insufficient_reasons"]}


def test_good_tests_are_analyzed(zan_ramp_hr):
    samples, _ = zan_ramp_hr
    r = run(samples)
    assert r["status"] == "analyzed" and r["insufficient_reasons"] == []


def test_values_outside_physiological_ranges_are_missing():
    s, _ = ramp_test(4)
    hr = list(s["hr_bpm"])
    hr[100], hr[200] = 300.0, 10.0
    r = run({**s, "hr_bpm": hr})
    flag = next(f for f in r["quality"]["flags"] if f["code"] == "implausible_values:hr_bpm")
    assert "2 hr_bpm values outside 25-250 bpm" in flag["message"]
    assert r["peak"]["hr_bpm"] < 250 and r["status"] == "analyzed"


# ------------------------------------------------------------------ the file's athlete vs the record
def test_the_files_athlete_is_compared_with_the_record(zan_ramp_hr):
    samples, meta = zan_ramp_hr  # the ZAN header: male, 66 kg, born 1998-10-04
    record = {"sex": "female", "body_mass_kg": 58.2, "birth_date": "1980-01-01"}
    r = analyze_cpet(samples, None, file_metadata=meta, athlete_record=record, test_date="2021-03-17")
    codes = {f["code"] for f in r["quality"]["flags"]}
    assert {"athlete_mismatch:sex", "athlete_mismatch:body_mass", "athlete_mismatch:age"} <= codes
    a = r["athlete"]
    assert a["body_mass_kg"] == 66 and a["body_mass_source"] == "file"  # the file's mass, not the record's
    assert a["sex"] == "female" and a["sex_source"] == "record"
    assert sorted(a["mismatches"]) == ["age", "body_mass", "sex"]
    same = analyze_cpet(samples, None, file_metadata=meta, test_date="2021-03-17",
                        athlete_record={"sex": "male", "body_mass_kg": 64, "birth_date": "1998-10-04"})
    assert not [f for f in same["quality"]["flags"] if f["code"].startswith("athlete_mismatch")]  # 64 kg: within 5 %


def test_body_mass_used_request_then_file_then_record(zan_ramp_hr):
    samples, meta = zan_ramp_hr
    rec = {"body_mass_kg": 70}
    r = analyze_cpet(samples, {"body_mass_kg": 67.5}, file_metadata=meta, athlete_record=rec)
    assert (r["athlete"]["body_mass_kg"], r["athlete"]["body_mass_source"]) == (67.5, "request")
    assert r["vo2max"]["vo2_ml_kg_min"] == pytest.approx(r["vo2max"]["vo2_ml_min"] / 67.5)
    r = analyze_cpet(samples, None, file_metadata=meta, athlete_record=rec)
    assert (r["athlete"]["body_mass_kg"], r["athlete"]["body_mass_source"]) == (66, "file")
    r = analyze_cpet(samples, None, file_metadata={}, athlete_record=rec)
    assert (r["athlete"]["body_mass_kg"], r["athlete"]["body_mass_source"]) == (70, "record")


# ------------------------------------------------------------------ heart rate onto a test
def test_hr_track_aligned_by_correlation_on_zan_ramp():
    w = table("spiro/zan_ramp")
    track = read_heart_rate((CPET / "spiro/hr_ramp.tcx").read_bytes(), "hr_ramp.tcx")
    t = np.asarray(w["samples"]["time_s"], float)
    vo2 = np.array([np.nan if v is None else v for v in w["samples"]["vo2_ml_min"]])
    a = align(t, vo2, track.time_s, track.hr_bpm)
    # spiro joins them at t = 0; HR leads VO2 a little on a ramp, so the best correlation sits a few s off
    assert a["method"] == "correlation" and abs(a["offset_s"]) <= 15 and a["correlation"] > 0.9
    shifted = align(t + 120, vo2, track.time_s, track.hr_bpm)
    assert shifted["offset_s"] == pytest.approx(a["offset_s"] + 120, abs=2)
    assert a["coverage"] > 0.95 and len(a["hr_bpm"]) == t.size


def test_hr_track_aligned_by_timestamps_or_offset():
    track_t = np.arange(0, 600.0)
    hr = 80 + track_t / 6
    test_t = np.arange(0, 500.0, 2.5)
    a = align(test_t, None, track_t, hr, test_start=1_000_000.0, track_start=1_000_030.0, offset_s=5)
    assert a["method"] == "timestamps" and a["offset_s"] == 30
    assert a["hr_bpm"][0] is None and a["hr_bpm"][20] == pytest.approx(80 + (50 - 30) / 6)
    b = align(test_t, None, track_t, hr, offset_s=-10)
    assert b["method"] == "offset" and b["hr_bpm"][0] == pytest.approx(80 + 10 / 6)
    with pytest.raises(AlignmentError) as exc:
        align(test_t, None, track_t, hr, offset_s=5000)
    assert exc.value.slug == "heart-rate-no-overlap"
    with pytest.raises(AlignmentError):
        align(test_t, None, track_t, hr)  # no VO2 to correlate with, no offset, no stamps


def test_zan_ramp_with_its_hr_track_has_hr_at_thresholds_and_hr_zones(zan_ramp_hr):
    samples, _ = zan_ramp_hr
    r = run(samples)
    assert r["vt1"]["hr_bpm"] is not None and r["vt2"]["hr_bpm"] is not None
    assert r["vt1"]["hr_bpm"] < r["vt2"]["hr_bpm"]
    assert all(z["hr_bpm"] is not None for z in r["zones"]["five_zone"])
