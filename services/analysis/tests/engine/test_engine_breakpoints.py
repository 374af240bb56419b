"""Segmented regression: prefix-sum search equals the naive search and finds known breaks."""
import numpy as np
import pytest

from analysis.engine.breakpoints import hinge_fit, two_segment_fit, two_segment_fit_naive, two_segment_rss


@pytest.mark.parametrize("seed", range(5))
def test_prefix_sum_search_matches_one_fit_per_split(seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(500, 4000, 150))
    y = np.where(x < 2200, 0.9 * x, 0.9 * 2200 + 1.3 * (x - 2200)) + rng.normal(0, 60, x.size)
    ks, rss, *_ = two_segment_rss(x, y, 3)
    k_naive, rss_naive = two_segment_fit_naive(x, y, 3)
    assert ks[int(np.argmin(rss))] == k_naive
    assert rss.min() == pytest.approx(rss_naive, rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_v_slope_finds_known_breakpoint(seed):
    # VCO2 vs VO2 with slope 0.9 below 2300 mL/min and 1.35 above (Beaver 1986 shape), 2 % noise
    rng = np.random.default_rng(seed)
    vo2 = rng.uniform(800, 3600, 400)
    vco2 = np.where(vo2 < 2300, 0.9 * vo2, 0.9 * 2300 + 1.35 * (vo2 - 2300))
    vco2 = vco2 * (1 + rng.normal(0, 0.02, vo2.size))
    f = two_segment_fit(vo2, vco2, 20)
    assert abs(f.breakpoint_x - 2300) < 100
    assert f.left[1] == pytest.approx(0.9, abs=0.05)
    assert f.right[1] == pytest.approx(1.35, abs=0.08)


def test_two_segment_fit_degenerate_inputs_give_none():
    assert two_segment_fit([1, 2, 3], [1, 2, 3], 3) is None
    assert two_segment_fit(np.ones(50), np.arange(50.0), 3) is None
    assert two_segment_fit([np.nan] * 20, np.arange(20.0), 3) is None


@pytest.mark.parametrize("psi", [40.0, 63.5])
def test_hinge_fit_one_break(psi):
    x = np.linspace(0, 100, 1001)
    y = 1 + 0.02 * x + 0.1 * np.maximum(x - psi, 0)
    h = hinge_fit(x, y, 1)
    assert h["breakpoints"][0] == pytest.approx(psi, abs=1e-3)
    assert h["coef"][1] == pytest.approx(0.02, abs=1e-6)


def test_hinge_fit_two_breaks_with_noise():
    rng = np.random.default_rng(3)
    x = np.linspace(0, 200, 2001)
    y = 1 + 0.005 * x + 0.03 * np.maximum(x - 80, 0) + 0.08 * np.maximum(x - 150, 0)
    h = hinge_fit(x, y + rng.normal(0, 0.05, x.size), 2)
    assert h["breakpoints"][0] == pytest.approx(80, abs=3)
    assert h["breakpoints"][1] == pytest.approx(150, abs=2)
