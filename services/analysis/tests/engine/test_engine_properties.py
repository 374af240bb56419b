"""Property tests: no finite input crashes the engine, and the output is always JSON-safe."""
import json
import math

from hypothesis import HealthCheck, given, settings, strategies as st

from analysis.engine import analyze_cpet, analyze_lactate
from analysis.engine.cpet import COLUMNS
from analysis.engine.overrides import InvalidOverride

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


def run(*args):
    """The result, or None when the overrides were refused: a refusal names the field and says why."""
    try:
        return analyze_cpet(*args)
    except InvalidOverride as exc:
        assert exc.errors and all(e["field"].startswith("overrides") and e["detail"] for e in exc.errors)
        return None


def check(r):
    if r is None:
        return
    json.dumps(r, allow_nan=False)
    assert not any(f["code"] == "analysis_error" for f in r["quality"]["flags"]), r["quality"]["flags"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({k: column for k in COLUMNS}), athlete, averaging, overrides)
def test_random_columns_never_crash(samples, ath, avg, ov):
    check(run(samples, ath, avg, ov))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plausible(), athlete, averaging, overrides,
       st.one_of(st.none(), st.lists(st.fixed_dictionaries({"lactate": value, "intensity": value}), max_size=8)))
def test_plausible_tests_never_crash(samples, ath, avg, ov, lac):
    check(run(samples, ath, avg, ov, lac))


step = st.fixed_dictionaries({"intensity": value, "lactate": value, "heart_rate": value, "length": value})


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=12), st.sampled_from(["poly3", "poly4", "exp", "spline", "bad"]), st.booleans(),
       st.sampled_from(["cycling", "running", "swimming", "bad"]))
def test_lactate_never_crashes(steps, fit, base, sport):
    r = analyze_lactate(steps, fit=fit, include_baseline=base, sport=sport)
    json.dumps(r, allow_nan=False)
    assert len(r["thresholds"]) == 17


@st.composite
def lactate_curve(draw):
    """A step test as labs see it: a resting value, then lactate flat near baseline and rising
    exponentially to 6-12 mmol/L at the last step, with a little measurement noise; HR rising."""
    n = draw(st.integers(min_value=5, max_value=10))
    start = draw(st.floats(min_value=0, max_value=250))
    inc = draw(st.floats(min_value=5, max_value=60))
    base = draw(st.floats(min_value=0.7, max_value=1.6))
    top = draw(st.floats(min_value=6.0, max_value=12.0))
    k = draw(st.floats(min_value=2.5, max_value=4.5)) / (n - 1)
    noise = draw(st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=n, max_size=n))
    lac = [base + (top - base) * math.expm1(k * i) / math.expm1(k * (n - 1)) + e for i, e in enumerate(noise)]
    steps = [{"intensity": 0, "lactate": base, "heart_rate": 80.0}] + [
        {"intensity": start + inc * (i + 1), "lactate": la, "heart_rate": 110.0 + 8 * i} for i, la in enumerate(lac)]
    return steps


@settings(max_examples=60, deadline=None)
@given(lactate_curve(), st.sampled_from(["poly3", "poly4", "exp", "spline"]))
def test_lactate_plausible_curves(steps, fit):
    r = analyze_lactate(steps, fit=fit)
    json.dumps(r, allow_nan=False)
    ex = steps[1:]
    inc = ex[1]["intensity"] - ex[0]["intensity"]
    lo, hi = ex[0]["intensity"] - inc, ex[-1]["intensity"]  # the resting row sits one step below the first
    lac = [s["lactate"] for s in ex]
    th = {t["method"]: t for t in r["thresholds"]}
    assert len(th) == 17
    for m, t in th.items():
        if t["intensity"] is None:
            continue
        # intensities are given to lactater's printed 0.1: a threshold at the edge may round past it by 0.05
        assert lo - 0.05 - 1e-6 <= t["intensity"] <= hi + 0.05 + 1e-6, (m, t)
        if t["heart_rate"] is not None:
            assert 80 - 1e-6 <= t["heart_rate"] <= ex[-1]["heart_rate"] + 1e-6, (m, t)
    # a fixed concentration inside the measured range is found, near where the measured curve crosses it,
    # and higher concentrations sit at higher intensities
    found = []
    for c in (2.0, 2.5, 3.0, 3.5, 4.0):
        t = th[f"OBLA {c}"]
        j = next(j for j in range(1, len(lac)) if lac[j - 1] < c <= lac[j]) if min(lac) < c < max(lac) else None
        if j is None:
            continue
        assert t["intensity"] is not None, (c, lac)
        crossing = ex[j - 1]["intensity"] + (c - lac[j - 1]) / (lac[j] - lac[j - 1]) * inc
        assert abs(t["intensity"] - crossing) <= inc, (c, t, crossing)
        found.append(t["intensity"])
    assert found == sorted(found)
    bsln = [th[f"Bsln + {d}"]["intensity"] for d in ("0.5", "1.0", "1.5")]
    assert all(x is not None for x in bsln) and bsln == sorted(bsln)
    if th["LTP1"]["intensity"] is not None and th["LTP2"]["intensity"] is not None:
        assert th["LTP1"]["intensity"] < th["LTP2"]["intensity"]
    assert th["Dmax"]["intensity"] is not None and th["OBLA 4.0"]["intensity"] is not None
