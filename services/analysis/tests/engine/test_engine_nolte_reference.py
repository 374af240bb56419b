"""Nolte et al. 2023 (Sports Med): VO2max (mL/kg/min) of their ramp tests under five averaging strategies,
reproduced end-to-end (ZAN reader + analyze_cpet) with the DEFAULT cleaning (no outlier removal, as spiro,
which the paper used) and, for the 30-s moving time average, with no strategy given at all.

The published values and where they were published: tests/published.py.
"""
import csv

import pytest

from conftest import TESTDATA

formats = pytest.importorskip("analysis.formats")

from analysis.engine import analyze_cpet  # noqa: E402
from tests.published import NOLTE_2023, NOLTE_AVERAGING, NOLTE_STRATEGIES, tolerance  # noqa: E402

NOLTE = TESTDATA / "cpet" / "nolte2023_ramptests"
MASS = {r["file"]: float(r["bodymass"]) for r in csv.DictReader(open(NOLTE / "participants.csv", newline=""))}


@pytest.fixture(scope="module")
def tests():
    return {name: {k: list(v) for k, v in formats.read_export((NOLTE / name).read_bytes(), name).samples.items()}
            for name in NOLTE_2023}


def test_every_published_test_file_is_here():
    assert set(NOLTE_2023) == set(MASS) and len(NOLTE_2023) == 25


@pytest.mark.parametrize("name", sorted(NOLTE_2023))
def test_nolte_strategies_reproduce_the_published_vo2max(tests, name):
    for k, strategy in enumerate(NOLTE_STRATEGIES):
        r = analyze_cpet(tests[name], {"body_mass_kg": MASS[name]}, NOLTE_AVERAGING[strategy])
        assert r["averaging"]["outliers"]["applied"] is False  # the default: as spiro and the paper
        got = r["vo2max"]["vo2_ml_min"] / MASS[name]
        printed = NOLTE_2023[name][k]
        assert got == pytest.approx(float(printed), abs=tolerance(printed)), strategy
