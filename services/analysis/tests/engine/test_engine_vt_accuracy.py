"""Accuracy gate: agreement with the experts' VT1/VT2 on the 92 labelled Oxynet tests must not get worse.

The figures are the 10-fold cross-validated ones bench/thresholds.py prints (each test scored by a
combiner fitted without it), with a small margin; a change that makes thresholds worse fails here.
Not a timed test. Lower the ceilings when the engine improves.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import vt_labelled as L  # noqa: E402

# reached with engine 1.4.0 and combiner 6 (bench/thresholds.py, fold draw seed 11: ramp 152 / 147, rest 228 / 151,
# all 180 / 148 mL/min; over five fold draws (seeds 11, 1-4) all 180 +- 5 / 144 +- 2, ramps 151 +- 3 / 140 +- 4,
# rest 232 +- 9 / 151 +- 1), + ~4 %. Against combiner 5 VT1 fell everywhere (all 188 -> 180, ramps 165 -> 152) and
# VT2 on ramps over five draws (146 -> 140), while VT2 on rest-phase tests rose (142 -> 151, five draws 144 -> 151):
# the ceiling of that one cell follows it up (150 -> 157), every other ceiling comes down.
CEILING_ML = {("ramp", "vt1"): 158, ("ramp", "vt2"): 153, ("rest", "vt1"): 237, ("rest", "vt2"): 157,
              ("all", "vt1"): 187, ("all", "vt2"): 153}
MAX_UNDETERMINED = 4  # of 92: at most 1 in 20


@pytest.fixture(scope="module")
def scored():
    tests = L.load_all()
    assert len(tests) == 92
    cv = L.cross_validated_results(tests)
    rows = [L.engine_row(r) for r in cv]
    prior = [L.prior_row(t, r) for t, r in zip(tests, cv)]
    out = {}
    for split in ("ramp", "rest", "all"):
        idx = [i for i, t in enumerate(tests) if split == "all" or t["kind"] == split]
        T = [tests[i] for i in idx]
        out[split] = (L.score(T, [rows[i] for i in idx]), L.score(T, [prior[i] for i in idx]))
    return out


@pytest.mark.parametrize("split, name", sorted(CEILING_ML))
def test_mae_on_the_labelled_tests_stays_below_the_reached_figure(scored, split, name):
    eng, _ = scored[split]
    assert eng[name]["mae_ml"] <= CEILING_ML[(split, name)], eng[name]


def test_few_undetermined(scored):
    eng, _ = scored["all"]
    assert eng["vt1"]["undetermined"] + eng["vt2"]["undetermined"] <= MAX_UNDETERMINED


@pytest.mark.parametrize("name", ["vt1", "vt2"])
def test_better_than_the_trivial_prior_over_all_tests(scored, name):
    eng, prior = scored["all"]
    assert eng[name]["mae_ml"] < prior[name]["mae_ml"]
