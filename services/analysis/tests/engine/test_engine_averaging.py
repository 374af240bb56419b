"""Averaging strategies against values computed by hand (spiro conventions)."""
import numpy as np
import pytest

from analysis.engine import averaging as avg


def test_interpolation_to_whole_seconds_from_one():
    t = np.array([0.5, 2.5, 4.0])
    g, c = avg.interpolate_1s(t, {"v": np.array([10.0, 30.0, 60.0])})
    # grid 1..round(4.0); v(1) = 10 + 20 * 0.5/2 = 15, v(2) = 25, v(3) = 30 + 30/1.5 * 0.5 = 40, v(4) = 60
    assert g.tolist() == [1, 2, 3, 4]
    assert c["v"].tolist() == pytest.approx([15, 25, 40, 60])


def test_interpolation_outside_samples_is_missing():
    g, c = avg.interpolate_1s(np.array([2.0, 3.0]), {"v": np.array([1.0, 2.0])})
    assert np.isnan(c["v"][0]) and c["v"][1:].tolist() == [1.0, 2.0]


def test_odd_moving_mean_is_centred():
    y = np.array([1, 2, 3, 4, 5, 6.0])
    m = avg.moving_mean(y, 3)
    assert np.isnan(m[0]) and np.isnan(m[-1])
    assert m[1:5].tolist() == pytest.approx([2, 3, 4, 5])


def test_even_moving_mean_leans_forward_like_r_filter():
    # R: stats::filter(1:6, rep(1/4, 4), sides = 2) -> NA, 2.5, 3.5, 4.5, NA, NA
    m = avg.moving_mean(np.arange(1, 7.0), 4)
    assert np.isnan(m[0]) and np.isnan(m[4]) and np.isnan(m[5])
    assert m[1:4].tolist() == pytest.approx([2.5, 3.5, 4.5])


def test_moving_mean_gap_gives_missing():
    m = avg.moving_mean(np.array([1, 2, np.nan, 4, 5, 6.0]), 3)
    assert np.isnan(m[1]) and np.isnan(m[2]) and np.isnan(m[3]) and m[4] == pytest.approx(5)


def test_bins_from_one_second():
    g = np.arange(1, 11.0)
    tt, m = avg.bin_means(g, g * 10, 4)
    # bins 1-4 and 5-8; the incomplete 9-10 bin is dropped
    assert tt.tolist() == [2.5, 6.5]
    assert m.tolist() == pytest.approx([25, 65])


def test_breath_strategy_averages_breaths_not_seconds():
    t = np.array([1.0, 2.0, 10.0, 11.0, 30.0])
    tt, c = avg.apply({"method": "breath", "breaths": 3}, t, {"v": np.array([3.0, 6, 9, 12, 15])})
    assert tt.tolist() == t.tolist()
    assert c["v"][1:4].tolist() == pytest.approx([6, 9, 12])


def test_time_strategy_on_1s_grid():
    t = np.arange(1, 11.0)
    tt, c = avg.apply({"method": "time", "seconds": 5}, t, {"v": t * 2})
    assert c["v"][2] == pytest.approx((2 + 4 + 6 + 8 + 10) / 5)


def test_butterworth_zero_lag_keeps_constant_and_slow_signal():
    x = np.full(300, 7.0)
    assert avg.butterworth(x, 0.04, 3, True) == pytest.approx(x)
    t = np.arange(600.0)
    slow = np.sin(2 * np.pi * t / 300)  # 0.0033 Hz, far below the 0.02 Hz cut-off
    f = avg.butterworth(slow, 0.04, 3, True)
    assert np.max(np.abs(f[50:-50] - slow[50:-50])) < 0.02  # no lag, amplitude kept


def test_butterworth_removes_fast_noise():
    rng = np.random.default_rng(0)
    x = 2000 + rng.normal(0, 200, 600)
    f = avg.butterworth(x, 0.04, 3, True)
    assert np.std(f) < 0.35 * np.std(x)


def test_strategy_normalisation_and_fallback():
    assert avg.normalise_strategy(None)["method"] == "time"
    assert avg.normalise_strategy({"method": "nope"})["seconds"] == 30
    s = avg.normalise_strategy({"method": "butterworth", "cutoff": 5, "order": 0})
    assert s["cutoff"] == 0.04 and s["order"] == 3
    assert avg.normalise_strategy({"outlier_sd": 0})["outlier_sd"] is None
    default = avg.normalise_strategy(None)
    assert default["seconds"] == 30 and default["outliers"] == {"method": "off"} and default["outlier_sd"] is None
    assert avg.normalise_strategy({"outlier_sd": 3})["outliers"] == {"method": "lamarra", "sd": 3.0}
    assert avg.normalise_strategy({"outliers": "lamarra"})["outliers"] == {"method": "lamarra", "sd": 4.0}
    assert avg.normalise_strategy({"outliers": {"method": "prediction_band", "level": 7}})["outliers"] == \
        {"method": "prediction_band", "level": 0.95}
    assert avg.normalise_strategy({"outliers": "everything"})["outliers"] == {"method": "off"}
    assert avg.normalise_strategy({"sampling": "weekly"})["sampling"] is None


def test_sampling_is_read_from_the_intervals():
    rng = np.random.default_rng(3)
    breaths = np.cumsum(rng.uniform(1.0, 4.0, 400))
    assert avg.infer_sampling(breaths) == "breath-by-breath"
    assert avg.infer_sampling(np.arange(1.0, 900.0)) == "averaged"
    assert avg.infer_sampling(np.arange(0.0, 900.0, 10.0)) == "averaged"


def test_prediction_band_catches_spikes_on_a_ramp_only():
    rng = np.random.default_rng(2)
    t = np.cumsum(rng.uniform(1.5, 3.0, 500))
    y = np.where(t < 300, 800, 800 + 3.0 * (t - 300)) + rng.normal(0, 60, t.size)
    y[[100, 250, 400]] += 900
    mask = avg.prediction_band_outliers(t, y, 0.99)
    assert mask[[100, 250, 400]].all()
    assert mask.sum() <= 3 + 0.03 * t.size  # ~1 % of normal breaths fall outside a 99 % band
    # a gap of missing values neither crashes nor is flagged
    y[10:20] = np.nan
    assert not avg.prediction_band_outliers(t, y, 0.99)[10:20].any()


def test_local_outlier_band_catches_spike_only():
    rng = np.random.default_rng(1)
    y = 2000 + rng.normal(0, 40, 300)
    y[100] = 3500
    mask = avg.local_outliers(y, 4.0)
    assert mask[100] and mask.sum() <= 3
