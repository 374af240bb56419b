"""Fit the VT1/VT2 combiner on the labelled Oxynet tests and write models/vt_combiner.json.

    .venv/bin/python services/analysis/tools/train_vt_combiner.py [version]

The engine's methods run first with the rule-based consensus (threshold_model=None); a ridge
regression per threshold then maps their results (fractions of VO2peak) and
the VE/VO2, VE/VCO2 and RER curves sampled at 40..100 % of VO2peak (VT2: also the VE/VCO2 nadir and
PetCO2 maximum above VT1; VT1: averaged with a kernel ridge, then with gradient-boosted trees fitted
by scikit-learn and exported as plain arrays, vt_labelled.SETUP) to
the expert's threshold as a fraction of VO2peak. The file records the 10-fold cross-validated MAE
(every test scored by a model fitted without it: tools/vt_labelled.cross_validated_results), the same
figures bench/thresholds.py prints. Only plain coefficients are shipped: the runtime needs numpy only.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import vt_labelled as L  # noqa: E402
from analysis.engine import analyze_cpet  # noqa: E402
from analysis.engine.thresholds import MODEL_PATH  # noqa: E402


def main(version: str) -> None:
    tests = L.load_all()
    base = [analyze_cpet(t["samples"], t["athlete"], threshold_model=None) for t in tests]
    model = L.fit_combiner([L.method_rows(r, t) for r, t in zip(base, tests)], tests, version=version)
    cv = L.cross_validated_results(tests)
    sc = {split: L.score([t for t in tests if split == "all" or t["kind"] == split],
                         [L.engine_row(r) for t, r in zip(tests, cv) if split == "all" or t["kind"] == split])
          for split in ("ramp", "rest", "all")}
    model["trained_on"] = f"{len(tests)} labelled Oxynet tests (testdata/cpet/oxynet_labelled)"
    model["cross_validation"] = {"folds": 10, "stratified": "ramp / rest", "scores": sc}
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    MODEL_PATH.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    for split, s in sc.items():
        print(split, {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in s.items()})
    print("written", MODEL_PATH)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "8")
