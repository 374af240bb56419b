"""Agreement of the automatic VT1/VT2 with experts on the labelled Oxynet tests (plain script, no assertions).

    .venv/bin/python bench/thresholds.py [--per-test] [--draws N]

For every test in testdata/cpet/oxynet_labelled (59 ramps, 33 with a resting phase) the file is read by the
product's reader and analysed with the default strategy; the engine's VT1/VT2 (the combiner cross-validated 10-fold, so no
test is scored by a model that saw it; and the rule-based median alone) are compared with the expert
labels (README there: VT1 = first second of domain 0, VT2 = first second of domain 1, VO2 = mean VO2 over
+-10 samples). Printed per split (ramp / rest-phase / all): MAE in mL/min and in s, share within
+-150 mL/min, number undetermined, and the same figures for the trivial prior (VT1 = 60 %, VT2 = 83 % of
the engine's VO2peak) on the same tests. No other reference file in testdata carries threshold labels.
--draws N also prints the combiner's MAE as mean +- sd over N fold draws (seeds 11, 1, 2, ...), since one
draw of 10 folds over 92 tests moves the figures by a few mL/min.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "analysis" / "tools"))

import vt_labelled as L  # noqa: E402
from analysis.engine import ENGINE_VERSION, analyze_cpet  # noqa: E402


def fmt(s: dict) -> str:
    return (f"MAE {s['mae_ml']:6.0f} mL/min {s['mae_s']:5.0f} s  within150 {100 * s['within150']:3.0f} %  "
            f"undet {s['undetermined']:2d}/{s['n']}")


def draws(tests: list[dict], rules: list[dict], n: int) -> None:
    import numpy as np
    rows = [L.method_rows(r, t) for r, t in zip(rules, tests)]
    seeds = [11] + list(range(1, n))
    got = {}
    for seed in seeds:
        cv = [L.engine_row(r) for r in L.cross_validated_results(tests, seed=seed, rows=rows)]
        for split in ("ramp", "rest", "all"):
            idx = [i for i, t in enumerate(tests) if split == "all" or t["kind"] == split]
            sc = L.score([tests[i] for i in idx], [cv[i] for i in idx])
            for name in ("vt1", "vt2"):
                got.setdefault((split, name), []).append(sc[name]["mae_ml"])
    print(f"combiner over {n} fold draws (seeds {', '.join(map(str, seeds))}), MAE mL/min mean +- sd:")
    for split in ("ramp", "rest", "all"):
        print(f"{split:4s} " + "  ".join(f"{name.upper()} {np.mean(got[(split, name)]):5.0f} +- "
                                         f"{np.std(got[(split, name)]):3.0f}" for name in ("vt1", "vt2")))


def main(per_test: bool = False, n_draws: int = 0) -> None:
    tests = L.load_all()
    t0 = time.perf_counter()
    rules = [analyze_cpet(t["samples"], t["athlete"], threshold_model=None) for t in tests]
    dt = time.perf_counter() - t0
    # the combiner's figures are cross-validated: each test scored by a model fitted on the other folds
    cv = L.cross_validated_results(tests)
    variants = (("engine", [L.engine_row(r) for r in cv]), ("rules", [L.engine_row(r) for r in rules]),
                ("prior", [L.prior_row(t, r) for t, r in zip(tests, rules)]))
    print(f"engine {ENGINE_VERSION}: {len(tests)} labelled tests, {dt:.1f} s for one pass; 'engine' = shipped "
          f"path with the combiner 10-fold cross-validated, 'rules' = median of the methods, 'prior' = 60/83 % "
          f"of VO2peak")
    for split in ("ramp", "rest", "all"):
        idx = [i for i, t in enumerate(tests) if split == "all" or t["kind"] == split]
        T = [tests[i] for i in idx]
        for name in ("vt1", "vt2"):
            for label, rows in variants:
                sc = L.score(T, [rows[i] for i in idx])
                print(f"{split:4s} {name.upper()}  {label:6s} {fmt(sc[name])}")
    if n_draws > 1:
        draws(tests, rules, n_draws)
    if per_test:
        eng = variants[0][1]
        for t, e in zip(tests, eng):
            cells = []
            for name in ("vt1", "vt2"):
                lab, est = t["labels"][name], e[name]
                cells.append(f"{name} label {lab['vo2_ml_min']:5.0f} @{lab['time_s']:5.0f}s  engine " +
                             (f"{est['vo2_ml_min']:5.0f} @{(est['time_s'] or float('nan')):5.0f}s" if est else "undetermined"))
            print(f"{t['name']:24s} " + " | ".join(cells))


if __name__ == "__main__":
    a = sys.argv[1:]
    main("--per-test" in a, int(a[a.index("--draws") + 1]) if "--draws" in a else 0)
