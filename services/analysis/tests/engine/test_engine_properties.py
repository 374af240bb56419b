"""Property tests: no finite input crashes the engine, and the output is always JSON-safe."""
import json

from hypothesis import HealthCheck, given, settings, strategies as st

from analysis.engine import analyze_cpet, analyze_lactate
from analysis.engine.cpet import COLUMNS

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
value = st.one_of(finite, st.none(), st.integers(min_value=-10**6, max_value=10**6))
column = st.one_of(st.none(), st.lists(value, max_size=60))


@st.composite
def plausible(draw):
    """Mostly-sensible tests with random lengths, gaps, load shapes and noise."""
    n = draw(st.integers(min_value=0, max_value=400))
    t0 = draw(st.floats(min_value=0, max_value=100))
    dt = draw(st.lists(st.floats(min_value=0.0, max_value=8.0), min_size=n, max_size=n))
    t, acc = [], t0
    for d in dt:
        acc += d
        t.append(acc)
    base = draw(st.floats(min_value=0, max_value=5000))
    slope = draw(st.floats(min_value=-5, max_value=10))
    noise = draw(st.lists(finite, min_size=n, max_size=n))
    vo2 = [base + slope * x + 0.001 * e for x, e in zip(t, noise)]
    s = {"time_s": t, "vo2_ml_min": vo2,
         "vco2_ml_min": [v * draw(st.floats(min_value=0.6, max_value=1.4)) for v in vo2],
         "ve_l_min": [v / 40 for v in vo2]}
    for k in ("hr_bpm", "power_w", "speed_kmh", "petco2_mmhg", "peto2_mmhg"):
        if draw(st.booleans()):
            step = draw(st.floats(min_value=0, max_value=50))
            s[k] = [round(x / max(draw(st.sampled_from([1, 30, 60, 180])), 1)) * step for x in t]
    return s


averaging = st.one_of(st.none(), st.fixed_dictionaries({"method": st.sampled_from(["time", "breath", "bin", "butterworth", "x"]),
                                                       "seconds": value, "breaths": value, "cutoff": value,
                                                       "order": value, "outlier_sd": value}))
overrides = st.one_of(st.none(), st.fixed_dictionaries({
    "vt1": st.one_of(st.none(), st.fixed_dictionaries({"time_s": value}), st.fixed_dictionaries({"vo2_ml_min": value})),
    "vt2": st.one_of(st.none(), st.fixed_dictionaries({"vo2_ml_min": value})),
    "exclude": st.one_of(st.none(), st.lists(st.lists(value, max_size=3), max_size=3))}))
athlete = st.one_of(st.none(), st.fixed_dictionaries({"body_mass_kg": value, "age": value,
                                                      "sex": st.sampled_from(["male", "female", "x", None])}))


def check(r):
    json.dumps(r, allow_nan=False)
    assert not any(f["code"] == "analysis_error" for f in r["quality"]["flags"]), r["quality"]["flags"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({k: column for k in COLUMNS}), athlete, averaging, overrides)
def test_random_columns_never_crash(samples, ath, avg, ov):
    check(analyze_cpet(samples, ath, avg, ov))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plausible(), athlete, averaging, overrides,
       st.one_of(st.none(), st.lists(st.fixed_dictionaries({"lactate": value, "intensity": value}), max_size=8)))
def test_plausible_tests_never_crash(samples, ath, avg, ov, lac):
    check(analyze_cpet(samples, ath, avg, ov, lac))


step = st.fixed_dictionaries({"intensity": value, "lactate": value, "heart_rate": value, "length": value})


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=12), st.sampled_from(["poly3", "poly4", "exp", "spline", "bad"]), st.booleans(),
       st.sampled_from(["cycling", "running", "swimming", "bad"]))
def test_lactate_never_crashes(steps, fit, base, sport):
    r = analyze_lactate(steps, fit=fit, include_baseline=base, sport=sport)
    json.dumps(r, allow_nan=False)
    assert len(r["thresholds"]) == 17


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.3, max_value=25), min_size=4, max_size=10),
       st.floats(min_value=0, max_value=300), st.floats(min_value=0.1, max_value=60),
       st.sampled_from(["poly3", "poly4", "exp", "spline"]))
def test_lactate_plausible_curves(lacs, start, inc, fit):
    steps = [{"intensity": 0, "lactate": lacs[0], "heart_rate": 80}] + [
        {"intensity": start + inc * (i + 1), "lactate": la, "heart_rate": 100 + 5 * i} for i, la in enumerate(lacs[1:])]
    r = analyze_lactate(sorted(steps, key=lambda s: s["intensity"]), fit=fit)
    json.dumps(r, allow_nan=False)
