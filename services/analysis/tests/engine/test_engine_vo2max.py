"""The VO2max verdict (Niemeyer et al. 2021 plateau rule) on constructed series and on real ramps.

Real ramps: Nolte et al. 2023 (testdata/cpet/nolte2023_ramptests, ZAN breath-by-breath, trained runners,
8 min warm-up at 2.8 m/s, then +0.15 m/s every 30 s). The tests named here were read by eye from their
30-s means over the last 5 min (1-s interpolated breaths), noted next to each case.
"""
import csv

import numpy as np
import pytest

from conftest import TESTDATA

from analysis.engine import analyze_cpet, vo2max as vmx

formats = pytest.importorskip("analysis.formats")

NOLTE = TESTDATA / "cpet" / "nolte2023_ramptests"


def ramp_series(slope=4.0, plateau_s=0.0, noise=120.0, warmup_vo2=None, dismount_s=0.0, seed=0):
    """Breaths every ~2 s: 4 min warm-up, then VO2 rising `slope` mL/min per s for 10 min, flat for the
    last `plateau_s`, optionally falling to 50 % over the last `dismount_s` (the runner stepping off)."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(1.6, 2.4, 500))
    t = t[t < 840 + dismount_s]
    onset, top = 240.0, 840.0 - plateau_s
    v = np.where(t < onset, warmup_vo2 or 1500.0, 1500.0 + slope * (np.minimum(t, top) - onset))
    if dismount_s:
        fall = t > 840
        v[fall] *= 1 - 0.5 * (t[fall] - 840) / dismount_s
    return t, v + rng.normal(0, noise, t.size), onset, 840.0 + dismount_s


def test_rising_ramp_is_no_plateau_and_flat_end_is():
    t, v, onset, end = ramp_series()
    pl = vmx.plateau_ramp(t, v, onset, end)
    assert pl["evaluable"] and pl["plateau"] is False
    assert pl["expected_increase_ml_min"] == pytest.approx(4.0 * 60, rel=0.1)
    assert pl["observed_increase_ml_min"] == pytest.approx(4.0 * 60, abs=80)
    t, v, onset, end = ramp_series(plateau_s=150)
    pl = vmx.plateau_ramp(t, v, onset, end)
    assert pl["evaluable"] and pl["plateau"] is True and abs(pl["observed_increase_ml_min"]) < 100


def test_expected_rise_ignores_the_warm_up():
    # a warm-up above the ramp's start (fast warm-up run): a line through it would be flatter or negative
    t, v, onset, end = ramp_series(warmup_vo2=3000)
    pl = vmx.plateau_ramp(t, v, onset, end)
    assert pl["submaximal_s"][0] >= onset + 60 and pl["submaximal_s"][1] <= end - 120
    assert pl["expected_increase_ml_min"] == pytest.approx(240, rel=0.1) and pl["plateau"] is False


def test_noise_as_large_as_the_expected_rise_is_not_evaluable():
    t, v, onset, end = ramp_series(slope=0.5, noise=600)
    pl = vmx.plateau_ramp(t, v, onset, end)
    assert pl["evaluable"] is False and pl["plateau"] is None and "noise" in pl["reason"]
    assert pl["noise_ml_min"] >= pl["expected_increase_ml_min"]
    assert vmx.verdict(pl) == ("vo2peak", "plateau not evaluable")


def test_a_dismount_is_not_a_plateau():
    # still rising when the runner steps off; the belt speed (load) is logged 20 s longer
    t, v, onset, end = ramp_series(dismount_s=20)
    pl = vmx.plateau_ramp(t, v, onset, end)
    assert 15 <= pl["dismount_excluded_s"] <= 35 and pl["end_s"] <= 840
    assert pl["plateau"] is False


def test_unknown_onset_is_not_evaluated():
    t, v, _, end = ramp_series()
    pl = vmx.plateau_ramp(t, v, None, end)
    assert pl["evaluable"] is False and "onset unknown" in pl["reason"]


def test_the_plateau_rule_takes_the_incremental_phase_and_refuses_an_unknown_onset():
    from analysis.engine.cpet import _incremental_phase

    proto = {"kind": "ramp", "_ramp_start": 100.0,
             "incremental": {"start_s": 240.0, "end_s": 830.0, "source": "load", "onset": "detected"}}
    assert _incremental_phase(proto, 900.0) == (240.0, 830.0, "phases (load)")
    proto["incremental"]["onset"] = "unknown"
    assert _incremental_phase(proto, 900.0)[0] is None
    assert _incremental_phase({"kind": "ramp", "_ramp_start": 100.0}, 900.0) == (100.0, 900.0, "protocol")
    assert _incremental_phase({"kind": "unknown"}, 900.0)[0] is None


def test_steps_need_full_stages_and_a_submaximal_line():
    def stage(n, load, vo2, dur=180.0):
        return {"stage": n, "load": load, "vo2_ml_min": vo2, "duration_s": dur}

    rising = [stage(i + 1, 100 + 25 * i, 1000 + 300 * i + (15 if i % 2 else -15)) for i in range(6)]
    pl = vmx.plateau_steps(rising, 180.0)
    assert pl["evaluable"] and pl["plateau"] is False and pl["stages_compared"] == [5, 6]
    assert pl["taylor_150"]["applicable"] and pl["taylor_150"]["plateau"] is False
    # the last stage was abandoned after 40 s: the last two FULL stages are compared
    capped = rising[:5] + [stage(6, 225, 2230), stage(7, 250, 2400, dur=40)]
    pl = vmx.plateau_steps(capped, 180.0)
    assert pl["stages_compared"] == [5, 6] and pl["plateau"] is True
    pl = vmx.plateau_steps(rising[:4], 180.0)
    assert pl["evaluable"] is False and "three" in pl["reason"]


def _nolte(name):
    rows = {r["file"]: r for r in csv.DictReader(open(NOLTE / "participants.csv", newline=""))}
    p = formats.read_export((NOLTE / name).read_bytes(), name)
    samples = {k: list(v) for k, v in p.samples.items()}
    return analyze_cpet(samples, {"body_mass_kg": float(rows[name]["bodymass"])})


@pytest.mark.parametrize("name,plateau", [
    ("04", True),   # 30-s means 4838 4985 4967 4990 4987: flat for the last 2 min
    ("43", True),   # 4087 4175 4176 4147 4128
    ("37", False),  # 4380 4471 4510 4687: still rising at the ramp's rate (131 mL/min per 30 s)
    ("61", False),  # 4165 4314 4464 4510 (the fall of VO2 after 782 s is cut as a dismount)
])
def test_nolte_ramps_with_and_without_a_plateau(name, plateau):
    pl = _nolte(name)["vo2max"]["plateau"]
    assert pl["evaluable"] and pl["plateau"] is plateau
    assert pl["onset_source"].startswith("phases") and pl["ramp_start_s"] > 150  # after the warm-up


def test_nolte_dismount_is_cut_from_the_end():
    # test 03: belt speed logged at 19.3 km/h to 677 s, VO2 falls from ~3900 to ~2000 over 663-676 s
    pl = _nolte("03")["vo2max"]["plateau"]
    assert pl["dismount_excluded_s"] >= 10 and pl["end_s"] <= 663
    assert pl["plateau"] is False  # 3676 3972 3892: rising by 237 of an expected 260 mL/min per min


def test_spiro_step_test_has_no_plateau():
    # zan_gxt: 300-s stages +1.44 km/h; stage VO2 (last 30 s) 1889 2171 2404 2739 3043 3382 3736 4182 4508:
    # the last step rises 326 mL/min, as much as the submaximal VO2-speed line predicts (~300)
    p = formats.read_export((TESTDATA / "cpet" / "spiro" / "zan_gxt").read_bytes(), "zan_gxt")
    r = analyze_cpet({k: list(v) for k, v in p.samples.items()}, {"body_mass_kg": 66})
    pl = r["vo2max"]["plateau"]
    assert pl["method"] == "niemeyer_2021_steps" and pl["stages_compared"] == [8, 9]
    assert pl["evaluable"] and pl["plateau"] is False and r["vo2max"]["verdict"] == "vo2peak"
    assert pl["expected_increase_ml_min"] == pytest.approx(307, rel=0.15)
    assert pl["taylor_150"]["applicable"] and pl["taylor_150"]["plateau"] is False
