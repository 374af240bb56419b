"""analyze_cpet on synthetic tests built with known VO2max, VT1 and VT2 (analysis.engine.synthetic)."""
import json

import numpy as np
import pytest

from analysis.engine import ENGINE_VERSION, analyze_cpet
from analysis.engine.synthetic import ramp_test, step_test

ATHLETE = {"body_mass_kg": 70, "age": 30, "sex": "male"}


def run(samples, **kw):
    r = analyze_cpet(samples, kw.pop("athlete", ATHLETE), **kw)
    json.dumps(r, allow_nan=False)  # JSON-safe: no NaN or numpy types
    assert not any(f["code"] == "analysis_error" for f in r["quality"]["flags"]), r["quality"]["flags"]
    return r


@pytest.fixture(scope="module", params=[0, 1, 2])
def ramp(request):
    s, truth = ramp_test(request.param)
    return s, truth, run(s)


def test_ramp_protocol_detected(ramp):
    _, truth, r = ramp
    p = r["protocol"]
    assert p["kind"] == "ramp" and p["load_channel"] == "power_w"
    assert p["increment"] == pytest.approx(truth["ramp_w_min"], rel=0.05)
    assert p["start"] == pytest.approx(truth["start_w"], abs=5)


def test_ramp_vo2max_and_plateau(ramp):
    _, truth, r = ramp
    v = r["vo2max"]
    # the maximum of a noisy 30-s mean sits a few % above the true plateau (5 % breath noise)
    assert v["vo2_ml_min"] == pytest.approx(truth["vo2max"], rel=0.06)
    assert v["vo2_ml_kg_min"] == pytest.approx(v["vo2_ml_min"] / 70)
    assert v["plateau"]["evaluable"] and v["plateau"]["method"] == "niemeyer_2021_ramp"
    assert truth["rest_s"] <= v["plateau"]["ramp_start_s"] < truth["rest_s"] + 30  # the ramp, not the rest
    assert v["verdict"] == ("vo2max" if v["plateau"]["plateau"] else "vo2peak")
    assert v["criteria"]["hr_pred_max"] == 190
    assert v["strategy"]["method"] == "time" and v["strategy"]["seconds"] == 30


@pytest.mark.parametrize("seed", range(3))
def test_ramp_plateau_criterion(seed):
    # Niemeyer et al. 2021: last 60-s mean minus the one before < 50 % of the rise the submaximal ramp
    # predicts. A plateau must outlast both 60-s means to show (2 min); none at all is no plateau.
    s, _ = ramp_test(seed, plateau_s=150)
    pl = run(s)["vo2max"]["plateau"]
    assert pl["evaluable"] and pl["plateau"] is True
    assert pl["observed_increase_ml_min"] < 0.5 * pl["expected_increase_ml_min"]
    assert pl["noise_ml_min"] < pl["expected_increase_ml_min"] and pl["interval_s"] == 60
    s, _ = ramp_test(seed, plateau_s=0, vo2max=4500)
    r = run(s)
    pl = r["vo2max"]["plateau"]
    assert pl["evaluable"] and pl["plateau"] is False and r["vo2max"]["verdict"] == "vo2peak"
    assert pl["observed_increase_ml_min"] >= 0.5 * pl["expected_increase_ml_min"]


def test_ramp_thresholds_near_truth(ramp):
    s, truth, r = ramp
    # the rule-based consensus (median of the methods) finds the breaks the data were built with
    rules = run(s, threshold_model=None)
    assert rules["vt1"]["vo2_ml_min"] == pytest.approx(truth["vt1"], rel=0.08)
    assert rules["vt2"]["vo2_ml_min"] == pytest.approx(truth["vt2"], rel=0.08)
    assert rules["vt1"]["method"] == "consensus"
    # the shipped combiner leans towards where experts put thresholds on real tests, but stays near
    assert r["vt1"]["vo2_ml_min"] == pytest.approx(truth["vt1"], rel=0.15)
    assert r["vt2"]["vo2_ml_min"] == pytest.approx(truth["vt2"], rel=0.15)
    assert r["vt1"]["method"] == "combined" and not r["vt1"]["manual"]
    vs = next(m for m in r["vt1"]["methods"] if m["method"] == "V-slope")
    assert vs["vo2_ml_min"] == pytest.approx(truth["vt1"], rel=0.06)
    assert r["vt1"]["vo2_pct_max"] == pytest.approx(100 * r["vt1"]["vo2_ml_min"] / r["vo2max"]["vo2_ml_min"])
    assert r["vt1"]["time_s"] < r["vt2"]["time_s"]
    assert r["vt1"]["hr_bpm"] < r["vt2"]["hr_bpm"] and r["vt1"]["power_w"] < r["vt2"]["power_w"]


def test_ramp_zones_follow_thresholds(ramp):
    _, _, r = ramp
    z3 = r["zones"]["three_zone"]
    assert z3[0]["hr_bpm"][1] == round(r["vt1"]["hr_bpm"]) and z3[1]["hr_bpm"][1] == round(r["vt2"]["hr_bpm"])
    assert z3[1]["power_w"][0] == round(r["vt1"]["power_w"])
    assert z3[0]["speed_kmh"] is None
    z5 = r["zones"]["five_zone"]
    assert len(z5) == 5 and all(z5[i]["hr_bpm"][1] == z5[i + 1]["hr_bpm"][0] for i in range(4))


def test_ramp_fatmax_not_meaningful(ramp):
    assert ramp[2]["fatmax"]["available"] is False and "step" in ramp[2]["fatmax"]["reason"]


def test_a_cycle_test_is_rated_against_the_cycle_norms(ramp):
    v = ramp[2]["vo2max"]
    assert v["norm_source"].startswith("FRIEND cycle ergometer 2017")
    assert v["percentile"] is not None or v["percentile_band"] in ("<10", ">90")


@pytest.mark.parametrize("modality, sex, age, vo2, expected", [
    # the 50th percentiles of the papers' abstracts sit exactly on the 50th percentile
    ("treadmill", "male", 25, 48.0, 50.0), ("treadmill", "female", 75, 18.3, 50.0),
    ("cycle", "male", 25, 41.9, 50.0), ("cycle", "female", 25, 31.0, 50.0),
    ("cycle", "male", 75, 19.5, 50.0), ("cycle", "female", 75, 14.8, 50.0),
    # the same VO2 ranks higher on the bike, where VO2max runs lower
    ("cycle", "male", 35, 41.7, 90.0), ("treadmill", "male", 35, 41.7, None),
])
def test_norm_percentiles(modality, sex, age, vo2, expected):
    from analysis.engine import norms

    got = norms.percentile(vo2, age, sex, modality)
    if expected is None:
        assert got["percentile"] < 50
    else:
        assert got["percentile"] == pytest.approx(expected)


def test_overrides_propagate():
    s, truth = ramp_test(4)
    auto = run(s)
    r = run(s, overrides={"vt1": {"time_s": 400}, "vt2": {"vo2_ml_min": 3400}})
    vt1, vt2 = r["vt1"], r["vt2"]
    assert vt1["manual"] and vt1["method"] == "manual" and vt1["time_s"] == 400
    assert vt2["manual"] and vt2["vo2_ml_min"] == 3400
    assert vt1["vo2_pct_max"] == pytest.approx(100 * vt1["vo2_ml_min"] / r["vo2max"]["vo2_ml_min"])
    # HR/power at the manual VT1 are read off the averaged curves at 400 s
    t = np.arange(1, 1000)
    assert vt1["power_w"] == pytest.approx(np.interp(400, np.array(s["time_s"]), np.array(s["power_w"])), abs=3)
    z = r["zones"]["three_zone"]
    assert z[0]["hr_bpm"][1] == round(vt1["hr_bpm"]) and z[1]["hr_bpm"][1] == round(vt2["hr_bpm"])
    assert z[0]["hr_bpm"][1] != auto["zones"]["three_zone"][0]["hr_bpm"][1]
    assert t.size  # grid used above


def test_manual_values_typed_by_lab_win():
    s, _ = ramp_test(5)
    r = run(s, overrides={"vt1": {"time_s": 420, "hr_bpm": 140}})
    assert r["vt1"]["hr_bpm"] == 140 and r["zones"]["three_zone"][0]["hr_bpm"][1] == 140


def test_exclude_ranges_remove_breaths():
    s, _ = ramp_test(6)
    base = run(s)
    r = run(s, overrides={"exclude": [[300, 360], [500, 510]]})
    t = np.array(s["time_s"])
    expected = int(((t >= 300) & (t <= 360)).sum() + ((t >= 500) & (t <= 510)).sum())
    assert r["quality"]["excluded_breaths"] == expected
    assert r["quality"]["n_breaths"] <= base["quality"]["n_breaths"] - expected + 2


def _spiked_ramp():
    s, _ = ramp_test(7)
    s = dict(s)
    vo2 = list(s["vo2_ml_min"])
    for i in (50, 150, 250):
        vo2[i] = vo2[i] * 3
    s["vo2_ml_min"] = vo2
    return s


def test_default_strategy_is_spiros_time_30_without_outlier_removal():
    r = run(_spiked_ramp())
    a = r["averaging"]
    assert a["method"] == "time" and a["seconds"] == 30
    assert a["outliers"]["method"] == "off" and a["outliers"]["applied"] is False and a["outlier_sd"] is None
    assert a["sampling"] == "breath-by-breath" and a["sampling_source"] == "time stamps"
    assert r["quality"]["outliers_removed"] == 0 and r["quality"]["outlier_rule"].startswith("off")
    assert r["vo2max"]["strategy"] == a


@pytest.mark.parametrize("outliers,text", [({"method": "lamarra", "sd": 4}, "Lamarra"),
                                           ("prediction_band", "prediction band")])
def test_outlier_removal_is_an_explicit_option(outliers, text):
    s = _spiked_ramp()
    r = run(s, averaging={"method": "time", "seconds": 30, "outliers": outliers})
    rule = r["averaging"]["outliers"]
    assert rule["applied"] is True and text in r["quality"]["outlier_rule"]
    # the three tripled breaths go, and the rule does not eat the ordinary breaths around them
    assert 3 <= r["quality"]["outliers_removed"] <= 0.08 * len(s["time_s"])
    assert r["quality"]["n_breaths"] == len(s["time_s"]) - r["quality"]["outliers_removed"]
    legacy = run(s, averaging={"method": "time", "seconds": 30, "outlier_sd": 4})
    assert legacy["averaging"]["outliers"]["method"] == "lamarra" and legacy["averaging"]["outlier_sd"] == 4


def test_outlier_removal_is_never_applied_to_interpolated_data():
    # the same spiked test interpolated to 1 s, as Oxynet and many carts export it
    s = _spiked_ramp()
    t = np.asarray(s["time_s"])
    grid = np.arange(1.0, np.floor(t[-1]))
    one = {k: (np.interp(grid, t, np.asarray(v, float)).tolist() if v is not None and k != "time_s" else None)
           for k, v in s.items()}
    one["time_s"] = grid.tolist()
    r = run(one, averaging={"method": "time", "seconds": 30, "outliers": "lamarra"})
    rule = r["averaging"]["outliers"]
    assert r["averaging"]["sampling"] == "averaged" and rule["method"] == "lamarra" and rule["applied"] is False
    assert "not breath-by-breath" in rule["reason"] and r["quality"]["outliers_removed"] == 0
    assert r["averaging"]["outlier_sd"] is None
    # a caller that knows better (the reader's metadata) declares the sampling
    r = run(s, averaging={"outliers": "lamarra", "sampling": "averaged"})
    assert r["averaging"]["sampling_source"] == "declared" and r["quality"]["outliers_removed"] == 0


@pytest.mark.parametrize("strategy", [{"method": "breath", "breaths": 15}, {"method": "bin", "seconds": 15},
                                      {"method": "butterworth", "cutoff": 0.04, "order": 3, "zero_lag": True},
                                      {"method": "time", "seconds": 10}])
def test_strategies_echoed_and_agree(strategy):
    s, truth = ramp_test(8)
    r = run(s, averaging=strategy)
    assert {k: r["averaging"][k] for k in strategy} == strategy
    assert r["vo2max"]["strategy"]["method"] == strategy["method"]
    assert r["vo2max"]["vo2_ml_min"] == pytest.approx(truth["vo2max"], rel=0.06)


def test_step_test_protocol_stages_and_fatmax():
    s, truth = step_test(1)
    r = run(s, athlete={"body_mass_kg": 65, "age": 25, "sex": "female"})
    p = r["protocol"]
    assert p["kind"] == "steps" and p["load_channel"] == "speed_kmh"
    assert p["start"] == truth["start"] and p["increment"] == truth["inc"]
    assert p["stage_length_s"] == pytest.approx(truth["stage_s"], abs=2)
    assert len(p["stages"]) == truth["n_stages"]
    st = p["stages"][2]
    # steady state of stage 3 = vo2_per_unit * speed (time constant 30 s, summary over the last 30 s)
    assert st["vo2_ml_min"] == pytest.approx(truth["vo2_per_unit"] * st["load"], rel=0.03)
    fm = r["fatmax"]
    assert fm["available"] and fm["mfo_g_min"] > 0
    best = next(x for x in fm["stages"] if x["stage"] == fm["fatmax"]["stage"])
    assert best["valid"] and best["rer"] <= 1.0
    # Frayn 1983 by hand for that stage
    v, c = best["vo2_ml_min"] / 1000, best["rer"] * best["vo2_ml_min"] / 1000
    assert fm["mfo_g_min"] == pytest.approx(1.67 * v - 1.67 * c)
    assert all((not x["valid"]) == (x["rer"] > 1.0) for x in fm["stages"])
    assert r["vo2max"]["norm_source"].startswith("FRIEND treadmill")


def test_step_plateau_against_the_submaximal_vo2_load_line():
    # 210 mL/min per km/h, VO2max 3000 < 210 * 15 km/h: the last full stage is capped
    s, _ = step_test(2, vo2max=3000)
    r = run(s)
    pl = r["vo2max"]["plateau"]
    assert pl["method"] == "niemeyer_2021_steps" and pl["evaluable"] and pl["plateau"] is True
    assert pl["expected_increase_ml_min"] == pytest.approx(210, rel=0.1)
    assert pl["delta_ml_min"] < 0.5 * pl["expected_increase_ml_min"] and r["vo2max"]["verdict"] == "vo2max"
    # +1 km/h raises VO2 by ~210 mL/min: Taylor's 150 mL/min would call any slowing a plateau
    assert pl["taylor_150"]["applicable"] is False and "not a plateau test" in pl["taylor_150"]["reason"]
    s, _ = step_test(2, vo2max=5000)
    r = run(s)
    assert r["vo2max"]["plateau"]["plateau"] is False and r["vo2max"]["verdict"] == "vo2peak"
    # +2 km/h (~420 mL/min per stage) is an increment Taylor's 150 mL/min was made for
    s, _ = step_test(2, inc=2, vo2max=6000)
    tay = run(s)["vo2max"]["plateau"]["taylor_150"]
    assert tay["applicable"] is True and tay["plateau"] is False


def test_treadmill_norm_percentile_at_published_median():
    # FRIEND 2015 treadmill, men 20-29: 50th percentile = 48.0 mL/kg/min (Kaminsky et al. 2015)
    from analysis.engine.norms import percentile
    assert percentile(48.0, 25, "male", "treadmill")["percentile"] == 50.0
    assert percentile(70.0, 25, "male", "treadmill")["percentile_band"] == ">90"
    assert percentile(40.0, 85, "male", "treadmill")["percentile"] is None


def test_secondary_criteria_and_lactate():
    s, _ = ramp_test(9)
    r = run(s, lactate=[{"lactate": 1.0}, {"lactate": 9.5}])
    c = r["vo2max"]["criteria"]
    assert c["lactate_max"]["value"] == 9.5 and c["lactate_max"]["pass"] is True
    assert c["rer_max"]["pass"] == (c["rer_max"]["value"] >= 1.10)


@pytest.mark.parametrize("samples", [{}, {"time_s": []}, {"time_s": [1, 2, 3], "vo2_ml_min": [None, None, None]},
                                     {"time_s": [None] * 5}, None, {"time_s": list(range(100))}])
def test_degenerate_inputs_give_none_and_flags(samples):
    r = run(samples)
    assert r["engine_version"] == ENGINE_VERSION
    assert r["vo2max"] is None and r["vt1"] is None and r["vt2"] is None
    assert r["quality"]["flags"]


def test_suspicious_units_flagged():
    s, _ = ramp_test(10)
    s = dict(s)
    s["vo2_ml_min"] = [v / 1000 for v in s["vo2_ml_min"]]  # L/min by mistake
    r = run(s)
    assert any(f["code"] == "units_suspicious:vo2_ml_min" for f in r["quality"]["flags"])


def test_missing_hr_and_short_test_flagged():
    s, _ = ramp_test(11, ramp_s=200, rest_s=30, recovery_s=10)
    s = dict(s, hr_bpm=None)
    r = run(s)
    codes = {f["code"] for f in r["quality"]["flags"]}
    assert "missing_channel:hr_bpm" in codes and "too_short" in codes
