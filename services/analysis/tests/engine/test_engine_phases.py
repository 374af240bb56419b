"""Phases of a test on reference files and synthetic tests: warm-up, rest phase, constant pre-ramp stage,
rests inside a step test, dismount, declared protocol, unknown onset."""
import numpy as np
import pytest

from analysis.engine import analyze_cpet, phases
from analysis.engine.synthetic import ramp_test
from analysis.formats import read_export

from conftest import TESTDATA


def analyse(rel, **kw):
    p = TESTDATA / "cpet" / rel
    parsed = read_export(p.read_bytes(), filename=p.name)
    w = parsed.to_wire()
    return w["samples"], analyze_cpet(w["samples"], {"body_mass_kg": w["metadata"].get("body_mass_kg")}, **kw)


def phase(r, name):
    return [p for p in r["protocol"]["phases"] if p["phase"] == name]


def test_fast_warm_up_before_the_ramp_is_a_warm_up_not_rests():
    # Anton: ~11 km/h warm-up, a walk, then the ramp from ~6.5 km/h: the ramp is not cut into "rests"
    s, r = analyse("gasexchanger/Anton_vo2max.txt")
    inc = r["protocol"]["incremental"]
    assert r["protocol"]["kind"] == "ramp" and inc["source"] == "load" and inc["onset"] == "detected"
    warm = phase(r, "warm_up")
    assert warm and warm[-1]["end_s"] <= inc["start_s"]
    assert not phase(r, "rest")
    speed = np.array([np.nan if v is None else v for v in s["speed_kmh"]], float)
    t = np.array(s["time_s"], float)
    # the warm-up reached a speed above the ramp's start: that is what a warm-up above the ramp is
    assert np.nanmax(speed[t < warm[-1]["end_s"]]) > r["protocol"]["start"] + 3
    assert inc["end_s"] - inc["start_s"] > 400
    for name in ("vt1", "vt2"):
        assert inc["start_s"] <= r[name]["time_s"] <= inc["end_s"]
        for m in r[name]["methods"]:
            assert m["time_s"] is None or inc["start_s"] <= m["time_s"] <= inc["end_s"]


@pytest.mark.parametrize("name", ["resting_real_test_27", "resting_real_test_32"])
def test_rest_phase_before_the_ramp_found_without_load(name):
    _, r = analyse(f"oxynet_labelled/{name}.csv")
    inc = r["protocol"]["incremental"]
    assert inc["source"] == "gas" and inc["onset"] == "detected"
    base = phase(r, "baseline")
    assert base and base[0]["end_s"] <= inc["start_s"] and inc["start_s"] > 120
    assert r["vt1"]["time_s"] > inc["start_s"]


def test_constant_pre_ramp_stage_from_the_load():
    # zan_ramp: 2 min at 10.1 km/h, then 0.54 km/h every 30 s
    _, r = analyse("spiro/zan_ramp")
    const = phase(r, "constant")
    inc = r["protocol"]["incremental"]
    assert len(const) == 1 and const[0]["load"] == pytest.approx(10.1, abs=0.1)
    assert const[0]["end_s"] <= inc["start_s"] <= const[0]["end_s"] + 2
    assert r["protocol"]["start"] == pytest.approx(10.1, abs=0.1)


def test_constant_pre_ramp_stage_from_vo2():
    # resting_real_test_1: a short baseline, VO2 jumps to ~2,200 mL/min and holds, then the slow ramp
    _, r = analyse("oxynet_labelled/resting_real_test_1.csv")
    inc = r["protocol"]["incremental"]
    const = phase(r, "constant")
    assert const and inc["onset"] == "detected" and 100 <= inc["start_s"] <= 240


def test_rests_inside_a_step_test_stay_rests():
    _, r = analyse("spiro/zan_gxt")
    rests = phase(r, "rest")
    inc = r["protocol"]["incremental"]
    assert r["protocol"]["kind"] == "steps" and len(rests) >= 8
    assert all(inc["start_s"] < p["start_s"] < inc["end_s"] for p in rests)


def test_dismount_is_not_exercise():
    s, truth = ramp_test(3, recovery_s=0.0, plateau_s=0.0)
    t = np.array(s["time_s"])
    vo2 = np.array(s["vo2_ml_min"])
    end = t[-1]
    off = t > end - 40  # the runner steps off: VO2 collapses while the load is still logged
    vo2[off] *= 0.5
    s = dict(s, vo2_ml_min=vo2.tolist())
    r = analyze_cpet(s, {"body_mass_kg": 70})
    inc = r["protocol"]["incremental"]
    assert any(f["code"] == "dismount" for f in r["quality"]["flags"])
    assert inc["end_s"] <= end - 30
    assert inc["dismount"] and inc["end_logged_s"] >= end - 3
    e, dis = phases.end_of_exercise(t, vo2, inc["start_s"], inc["end_logged_s"])
    assert dis and e == pytest.approx(inc["end_s"])


def test_dismount_on_a_reference_treadmill_ramp():
    # Nolte 2023 test 03: VO2 falls from ~4,000 to ~2,000 mL/min in the last 10 s while the belt speed
    # is still logged (the runner stepping off)
    s, r = analyse("nolte2023_ramptests/03")
    inc = r["protocol"]["incremental"]
    assert any(f["code"] == "dismount" for f in r["quality"]["flags"])
    assert 640 <= inc["end_s"] <= 665
    assert inc["end_s"] < max(t for t, v in zip(s["time_s"], s["speed_kmh"]) if v)


def test_few_false_dismounts_on_clean_ramps():
    # 5 % breath noise can mimic a 10 % fall of the last 15-s mean now and then; it must stay rare
    false = 0
    for seed in range(20):
        s, truth = ramp_test(seed)
        r = analyze_cpet(s, {"body_mass_kg": 70})
        if any(f["code"] == "dismount" for f in r["quality"]["flags"]):
            false += 1
        else:
            assert r["protocol"]["incremental"]["end_s"] == pytest.approx(truth["rest_s"] + truth["ramp_s"], abs=6)
    assert false <= 1


def test_declared_protocol_overrides_detection():
    s, _ = analyse("oxynet_labelled/ramp_real_test_1.csv")
    declared = {"kind": "ramp", "start": 100, "increment": 25, "baseline_s": 120, "baseline_load": 0}
    r = analyze_cpet(s, {"body_mass_kg": 88}, declared_protocol=declared)
    inc = r["protocol"]["incremental"]
    assert inc["source"] == "declared" and inc["onset"] == "declared"
    assert inc["start_s"] == pytest.approx(s["time_s"][0] + 120)
    assert r["protocol"]["kind"] == "ramp" and r["protocol"]["increment"] == 25
    assert phase(r, "baseline")[0]["end_s"] == pytest.approx(inc["start_s"])
    assert r["vt1"]["time_s"] >= inc["start_s"]


def test_onset_unknown_when_the_recording_starts_mid_test():
    s, _ = analyse("oxynet_labelled/ramp_real_test_1.csv")
    t = np.array(s["time_s"])
    cut = t >= 450  # VO2 already ~75 % of its peak at the first sample
    s2 = {k: (None if v is None else [x for x, c in zip(v, cut) if c]) for k, v in s.items()}
    r = analyze_cpet(s2, {"body_mass_kg": 88})
    assert r["protocol"]["incremental"]["onset"] == "unknown"
    assert any(f["code"] == "onset_unknown" for f in r["quality"]["flags"])


def test_ramp_from_the_start_of_the_recording_is_flagged_as_such():
    _, r = analyse("oxynet_labelled/ramp_real_test_3.csv")
    inc = r["protocol"]["incremental"]
    assert inc["source"] == "gas" and inc["onset"] in ("recording_start", "detected")
    if inc["onset"] == "recording_start":
        assert any(f["code"] == "onset_at_recording_start" for f in r["quality"]["flags"])
    assert inc["start_s"] < 60
