"""Benchmark of the analysis engine (plain script, no timed assertions anywhere).

    .venv/bin/python bench/analysis.py

1. Full analyze_cpet on a synthetic 2,000-breath ramp test, in-process: p50 / p99 in ms (target p50 <= 10 ms).
2. The same analysis with the explicit outlier options (Lamarra, prediction band) against the default
   (no outlier removal), interleaved run by run so the machine's load hits all alike: ratios.
3. The two-segment breakpoint search (prefix sums, O(n) for all splits) against a naive
   one-lstsq-fit-per-split implementation on the same data: both times and the ratio.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "analysis"))

from analysis.engine import analyze_cpet  # noqa: E402
from analysis.engine.breakpoints import two_segment_fit, two_segment_fit_naive  # noqa: E402
from analysis.engine.synthetic import ramp_test  # noqa: E402


def pct(a, q):
    return float(np.percentile(np.asarray(a), q))


def main(runs: int = 200) -> None:
    samples, truth = ramp_test(seed=7, n_breaths=2000)
    athlete = {"body_mass_kg": 70, "age": 35, "sex": "male"}
    n = len(samples["time_s"])
    for _ in range(5):  # warm-up: imports, caches
        analyze_cpet(samples, athlete)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        analyze_cpet(samples, athlete)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"analyze_cpet, {n} breaths, {runs} runs: p50 {pct(times, 50):.2f} ms, p99 {pct(times, 99):.2f} ms "
          f"(target p50 <= 10 ms)")

    options = {"default": None, "lamarra": {"outliers": "lamarra"}, "prediction band": {"outliers": "prediction_band"}}
    per = {k: [] for k in options}
    for _ in range(60):
        for name, averaging in options.items():
            t0 = time.perf_counter()
            analyze_cpet(samples, athlete, averaging)
            per[name].append((time.perf_counter() - t0) * 1000)
    base = float(np.median(per["default"]))
    print("outlier options, interleaved p50: " + ", ".join(
        f"{k} {float(np.median(v)):.2f} ms ({float(np.median(v)) / base:.2f}x)" for k, v in per.items()))

    x = np.asarray(samples["vo2_ml_min"])
    y = np.asarray(samples["vco2_ml_min"])
    fast_t, naive_t = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        f = two_segment_fit(x, y, 3)
        fast_t.append(time.perf_counter() - t0)
    for _ in range(3):
        t0 = time.perf_counter()
        k_naive, _ = two_segment_fit_naive(x, y, 3)
        naive_t.append(time.perf_counter() - t0)
    fast, naive = float(np.median(fast_t)), float(np.median(naive_t))
    same = "same split" if f is not None and f.split == k_naive else "DIFFERENT split"
    print(f"two-segment search, {x.size} points: prefix sums {fast * 1000:.3f} ms, naive lstsq per split "
          f"{naive * 1000:.1f} ms, ratio {naive / fast:.0f}x ({same})")


if __name__ == "__main__":
    main()
