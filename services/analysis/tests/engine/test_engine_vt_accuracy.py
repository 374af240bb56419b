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

# reached with engine 1.6.0 and combiner 8 (bench/thresholds.py, fold draw seed 11: ramp 137 / 136, rest 230 / 144,
# all 170 / 139 mL/min; over five fold draws (seeds 11, 1-4) all 168 +- 2 / 137 +- 1, ramps 132 +- 2 / 134 +- 2,
# rest 231 +- 2 / 143 +- 2), + ~3 %. Combiner 8 changed VT1 only (boosted trees): against combiner 7 ramp VT1 150 -> 137
# and all 179 -> 170 on this draw, rest 230 -> 230; VT2 is combiner 7's.
CEILING_ML = {("ramp", "vt1"): 141, ("ramp", "vt2"): 141, ("rest", "vt1"): 237, ("rest", "vt2"): 149,
              ("all", "vt1"): 175, ("all", "vt2"): 144}
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


@pytest.mark.parametrize("split", ["ramp", "rest", "all"])
@pytest.mark.parametrize("name", ["vt1", "vt2"])
def test_better_than_the_trivial_prior_on_every_split(scored, split, name):
    # combiner 7: VT2 on ramps too (136 vs 137 mL/min on this draw: the narrowest margin of the table)
    eng, prior = scored[split]
    assert eng[name]["mae_ml"] < prior[name]["mae_ml"]
