"""The Oxynet labelled tests (testdata/cpet/oxynet_labelled): loading, expert labels, scoring.

Shared by bench/thresholds.py, the accuracy gate (tests/engine/test_engine_vt_accuracy.py) and the
combiner's training script (tools/train_vt_combiner.py), so all three score the same way.

Label convention (the folder's README): VT1 = first time with domain 0, VT2 = first time with
domain 1; the VO2 at a threshold is the mean VO2_I over +-10 samples around that time (as the
Oxynet code takes it). Files are read through the product's own reader (formats.read_export), as
an upload would be.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]          # services/analysis
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.formats import read_export  # noqa: E402

DATA = ROOT.parents[1] / "testdata" / "cpet" / "oxynet_labelled"
PRIOR = {"vt1": 0.60, "vt2": 0.83}  # the trivial prior: fractions of VO2peak
WITHIN_ML = 150.0


def files(data: Path = DATA) -> list[Path]:
    def key(p: Path):
        kind, _, num = p.stem.rpartition("_")
        return kind, int(num) if num.isdigit() else 0
    return sorted(data.glob("*_real_test_*.csv"), key=key)


def _labels(path: Path) -> dict:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    t = np.array([float(r["time"]) for r in rows])
    vo2 = np.array([float(r["VO2_I"]) for r in rows])
    dom = np.array([int(float(r["domain"])) for r in rows])
    out = {}
    for name, d in (("vt1", 0), ("vt2", 1)):
        i = int(np.argmax(dom == d)) if (dom == d).any() else None
        if i is None:
            out[name] = None
            continue
        out[name] = {"time_s": float(t[i]), "vo2_ml_min": float(vo2[max(i - 10, 0): i + 11].mean())}
    return out


def load(path: Path) -> dict:
    """One labelled test: wire samples and athlete as an import would pass them, plus the labels."""
    parsed = read_export(path.read_bytes(), filename=path.name)
    wire = parsed.to_wire()
    meta = wire["metadata"]
    return {"name": path.stem, "kind": "ramp" if path.stem.startswith("ramp") else "rest",
            "samples": wire["samples"],
            "athlete": {"body_mass_kg": meta.get("body_mass_kg"), "age": meta.get("age_years"),
                        "sex": meta.get("sex")},
            "labels": _labels(path)}


def load_all(data: Path = DATA) -> list[dict]:
    return [load(p) for p in files(data)]


def first_crossing(t: np.ndarray, vo2_smooth: np.ndarray, value: float) -> float | None:
    i = np.nonzero(vo2_smooth >= value)[0]
    return float(t[i[0]]) if i.size else None


def prior_row(test: dict, result: dict) -> dict:
    """The trivial prior on the same test: VT1 = 60 %, VT2 = 83 % of the engine's VO2peak; its time is
    the first moment the +-10-s mean VO2 reaches that value (the labels' own smoothing)."""
    peak = (result.get("vo2max") or {}).get("vo2_ml_min")
    t = np.array([np.nan if v is None else v for v in test["samples"]["time_s"]], float)
    v = np.array([np.nan if x is None else x for x in test["samples"]["vo2_ml_min"]], float)
    sm = np.convolve(np.nan_to_num(v), np.ones(21) / 21, mode="same")
    out = {}
    for name, f in PRIOR.items():
        if peak is None:
            out[name] = None
            continue
        val = f * peak
        out[name] = {"vo2_ml_min": val, "time_s": first_crossing(t, sm, val)}
    return out


def engine_row(result: dict) -> dict:
    out = {}
    for name in ("vt1", "vt2"):
        r = result.get(name)
        out[name] = None if not r or r.get("vo2_ml_min") is None else {
            "vo2_ml_min": r["vo2_ml_min"], "time_s": r.get("time_s")}
    return out


def score(tests: list[dict], rows: list[dict]) -> dict:
    """MAE (mL/min and s), share within +-150 mL/min and count undetermined, per threshold.
    Undetermined tests are left out of the MAE and counted apart."""
    out = {}
    for name in ("vt1", "vt2"):
        dv, dt, und = [], [], 0
        for test, row in zip(tests, rows):
            lab, est = test["labels"][name], row.get(name)
            if lab is None:
                continue
            if est is None or est.get("vo2_ml_min") is None:
                und += 1
                continue
            dv.append(abs(est["vo2_ml_min"] - lab["vo2_ml_min"]))
            if est.get("time_s") is not None:
                dt.append(abs(est["time_s"] - lab["time_s"]))
        dv = np.array(dv)
        out[name] = {"n": int(dv.size + und), "mae_ml": float(dv.mean()) if dv.size else float("nan"),
                     "mae_s": float(np.mean(dt)) if dt else float("nan"),
                     "within150": float((dv <= WITHIN_ML).mean()) if dv.size else float("nan"),
                     "undetermined": und}
    return out


# ----------------------------------------------------------------------------- the combiner
LAMBDAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
# the fit predicts fractions of VO2peak, but thresholds are judged in mL/min: each test's squared error is
# weighted by its VO2peak^2, so the loss is the squared error in mL/min (fixed beforehand, not chosen on the
# labelled tests; unweighted fits scored 3-6 mL/min worse on ramps over five fold draws)
WEIGHTING = "vo2peak^2"
MISSING = "median_found"  # a method that found nothing takes the median of the methods found (thresholds.features)
# combiner 7 (measured over ten fold draws on the nested protocol, engine/models/README): VT1 averages the ridge with
# a kernel ridge; VT2 also reads the VE/VCO2 nadir and the PetCO2 maximum above VT1 (thresholds.vt2_markers)
# combiner 8 (engine/models/README): VT1's ridge + kernel ridge average is averaged 50/50 with gradient-boosted trees
SETUP = {"vt1": {"markers": False, "krr": True, "trees": True}, "vt2": {"markers": True, "krr": False, "trees": False}}
KRR_GRID = tuple((g, lam) for g in (0.1, 0.3, 1.0) for lam in (0.1, 1.0, 10.0))
# the trees' settings were fixed before they were scored (small-data defaults: shallow trees, slow learning rate,
# row subsampling, the absolute error as the loss since MAE is the figure), not tuned on the labelled tests
TREES = {"loss": "absolute_error", "n_estimators": 200, "learning_rate": 0.03, "max_depth": 2, "subsample": 0.7,
         "random_state": 0}


def _array(v):
    return None if v is None else np.array([np.nan if x is None else x for x in v], float)


def method_rows(result: dict, test: dict) -> dict:
    """What the combiner sees of one analysed test: each method's VO2 per threshold, VO2peak, context,
    and the curve profile (recomputed from the samples with the engine's own functions and the
    result's incremental phase, as analyze_cpet computes it)."""
    from analysis.engine import thresholds as thr
    peak = (result.get("vo2max") or {}).get("vo2_ml_min")
    proto = result.get("protocol") or {}
    inc = proto.get("incremental") or {}
    ctx = thr.context_features(inc.get("onset"), inc.get("vo2_at_start_ml_min"), peak)
    profile = [float("nan")] * (len(thr.PROFILE_SIGNALS) * len(thr.PROFILE_FRACTIONS))
    markers = [float("nan")] * len(thr.VT2_MARKERS)
    if inc:
        cols = {k: _array(v) for k, v in test["samples"].items()}
        rests = [(p["start_s"], p["end_s"]) for p in proto.get("phases") or [] if p["phase"] == "rest"]
        bins = thr.prepare(cols["time_s"], cols, inc["start_s"], inc["end_s"], rests)
        profile = thr.profile_features(bins, peak)
        if bins["time_s"].size >= 12 and peak:
            m1, _ = thr.detect(bins, peak)  # the VT1 methods as analyze_cpet found them (the markers start there)
            markers = thr.vt2_markers(bins, peak, m1)
    out = {"peak": peak, "ctx": ctx, "profile": profile, "markers": markers}
    for name in ("vt1", "vt2"):
        r = result.get(name)
        out[name] = None if not r else {m["method"]: {"vo2_ml_min": m["vo2_ml_min"]} for m in r.get("methods", [])}
    return out


def _ridge(X: np.ndarray, y: np.ndarray, lam: float, w: np.ndarray | None = None) -> dict:
    """Ridge with an unpenalised intercept on standardised features; w: per-test loss weights."""
    med = np.nanmedian(X, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    Xi = np.where(np.isfinite(X), X, med)
    mu, sd = Xi.mean(0), Xi.std(0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    Z = (Xi - mu) / sd
    w = np.ones(len(y)) if w is None else np.asarray(w, float) / np.mean(w)
    zm = (w[:, None] * Z).sum(0) / w.sum()
    ym = float((w * y).sum() / w.sum())
    Zc = Z - zm
    coef = np.linalg.solve(Zc.T @ (w[:, None] * Zc) + lam * np.eye(Z.shape[1]), Zc.T @ (w * (y - ym)))
    return {"impute": med.tolist(), "mean": mu.tolist(), "scale": sd.tolist(), "coef": coef.tolist(),
            "intercept": float(ym - zm @ coef)}


def _design(rows: list[dict], tests: list[dict], name: str, methods):
    from analysis.engine import thresholds as thr
    X, y, pk = [], [], []
    for r, t in zip(rows, tests):
        if r[name] is None or not r["peak"] or t["labels"][name] is None:
            continue
        X.append(thr.features(r[name], r["peak"], methods, MISSING) + list(r["ctx"]) + list(r["profile"]) +
                 (list(r["markers"]) if SETUP[name]["markers"] else []))
        y.append(t["labels"][name]["vo2_ml_min"] / r["peak"])
        pk.append(r["peak"])
    return np.asarray(X, float), np.asarray(y, float), np.asarray(pk, float)


def _krr(X: np.ndarray, y: np.ndarray, pk: np.ndarray, ridge: dict, folds: int = 5) -> dict:
    """Kernel ridge (RBF on the ridge's standardised features, loss weighted by VO2peak^2), gamma and penalty
    chosen by an inner k-fold CV scored in mL/min; averaged 50/50 with the ridge by thresholds.combine."""
    med, mu, sd = (np.asarray(ridge[k]) for k in ("impute", "mean", "scale"))
    Z = (np.where(np.isfinite(X), X, med) - mu) / sd
    w = pk ** 2

    def kern(A, B, g):
        return np.exp(-g * ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1) / A.shape[1])

    def fit(Zt, yt, wt, g, lam):
        ym = float((wt * yt).sum() / wt.sum())
        W = wt / wt.mean()
        a = np.linalg.solve(W[:, None] * kern(Zt, Zt, g) + lam * np.eye(yt.size), W * (yt - ym))
        return a, ym

    idx = np.arange(len(y))
    best = (np.inf, KRR_GRID[0])
    for g, lam in KRR_GRID:
        e = 0.0
        for f in range(folds):
            te = idx[f::folds]
            tr = np.setdiff1d(idx, te)
            a, ym = fit(Z[tr], y[tr], w[tr], g, lam)
            e += float(np.abs(ym + kern(Z[te], Z[tr], g) @ a - y[te]) @ pk[te])
        if e < best[0]:
            best = (e, (g, lam))
    g, lam = best[1]
    a, ym = fit(Z, y, w, g, lam)
    return {"gamma": g, "lambda": lam, "y_mean": ym, "alpha": a.tolist(), "train": Z.tolist()}


def _trees(X: np.ndarray, y: np.ndarray, pk: np.ndarray, ridge: dict) -> dict:
    """Gradient-boosted trees (scikit-learn, TREES) on the ridge's imputed features, loss weighted by VO2peak^2
    like the ridge's, exported as plain arrays for thresholds.boosted_trees (the runtime needs numpy only).
    scikit-learn is needed here only: for training and the cross-validated figures."""
    from sklearn.ensemble import GradientBoostingRegressor
    Xi = np.where(np.isfinite(X), X, np.asarray(ridge["impute"]))
    gb = GradientBoostingRegressor(**TREES).fit(Xi, y, sample_weight=pk ** 2 / np.mean(pk ** 2))
    trees = [e[0].tree_ for e in gb.estimators_]
    width = max(t.node_count for t in trees)

    def pad(get, fill):
        return [list(get(t)) + [fill] * (width - t.node_count) for t in trees]

    out = {"init": float(gb.init_.predict(Xi[:1]).ravel()[0]), "learning_rate": float(gb.learning_rate),
           "max_depth": int(TREES["max_depth"]), "settings": dict(TREES),
           "feature": pad(lambda t: [int(f) for f in t.feature], -2),
           "threshold": pad(lambda t: [float(v) for v in t.threshold], -2.0),
           "left": pad(lambda t: [int(c) for c in t.children_left], -1),
           "right": pad(lambda t: [int(c) for c in t.children_right], -1),
           "value": pad(lambda t: [float(v) for v in t.value[:, 0, 0]], 0.0)}
    # the exported arrays must predict what scikit-learn predicts (thresholds.boosted_trees reads them)
    from analysis.engine import thresholds as thr
    mine = np.array([thr.boosted_trees(out, x) for x in Xi])
    if not np.allclose(mine, gb.predict(Xi), rtol=0, atol=1e-9):
        raise AssertionError("exported trees disagree with scikit-learn's prediction")
    return out


def _predict(part: dict, X: np.ndarray) -> np.ndarray:
    from analysis.engine import thresholds as thr
    return np.array([thr.combine(part, list(x)) for x in X])


def fit_combiner(rows: list[dict], tests: list[dict], folds: int = 5, version: str = "dev") -> dict:
    """Ridge per threshold, loss weighted by VO2peak^2 (squared error in mL/min); the penalty is chosen by
    an inner k-fold CV on these rows only, scored as the thresholds are judged: MAE in mL/min."""
    from analysis.engine import thresholds as thr
    profile = [f"{sig}@{f:.2f}" for sig in thr.PROFILE_SIGNALS for f in thr.PROFILE_FRACTIONS]
    model = {"version": version,
             "kind": "ridge over method VO2 / VO2peak + curve profile (+ VT2 markers; VT1 averaged with a kernel "
                     "ridge, then with gradient-boosted trees)",
             "context": [], "profile_signals": list(thr.PROFILE_SIGNALS),
             "profile_fractions": list(thr.PROFILE_FRACTIONS)}
    for name, methods in (("vt1", thr.VT1_METHODS), ("vt2", thr.VT2_METHODS)):
        X, y, pk = _design(rows, tests, name, methods)
        idx = np.arange(len(y))
        best = (np.inf, LAMBDAS[-1])
        for lam in LAMBDAS:
            err = []
            for f in range(folds):
                te = idx[f::folds]
                tr = np.setdiff1d(idx, te)
                if tr.size < 5 or te.size == 0:
                    continue
                part = _ridge(X[tr], y[tr], lam, pk[tr] ** 2) | {"methods": list(methods), "profile": profile,
                                                                  "markers": SETUP[name]["markers"]}
                err.append(np.abs(_predict(part, X[te]) - y[te]) * pk[te])
            e = float(np.mean(np.concatenate(err))) if err else np.inf
            if e < best[0]:
                best = (e, lam)
        part = _ridge(X, y, best[1], pk ** 2) | {
            "methods": list(methods), "missing": MISSING, "profile": profile, "lambda": best[1],
            "weighting": WEIGHTING, "n": int(len(y))}
        if SETUP[name]["markers"]:
            part["markers"] = list(thr.VT2_MARKERS)
        if SETUP[name]["krr"]:
            part["krr"] = _krr(X, y, pk, part, folds)
        if SETUP[name]["trees"]:
            part["trees"] = _trees(X, y, pk, part)
        model[name] = part
    return model


def folds_of(tests: list[dict], k: int = 10, seed: int = 11) -> list[np.ndarray]:
    """k folds, stratified by ramp / rest so each fold holds both kinds."""
    rng = np.random.default_rng(seed)
    out = [[] for _ in range(k)]
    for kind in ("ramp", "rest"):
        idx = [i for i, t in enumerate(tests) if t["kind"] == kind]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            out[j % k].append(i)
    return [np.array(sorted(f)) for f in out]


def cross_validated_results(tests: list[dict], k: int = 10, seed: int = 11, rows: list[dict] | None = None) -> list[dict]:
    """Every test analysed by the engine with a combiner fitted on the other folds only (fold draw `seed`;
    rows: method_rows of the rule-based pass, when the caller has them already)."""
    from analysis.engine import analyze_cpet
    if rows is None:
        base = [analyze_cpet(t["samples"], t["athlete"], threshold_model=None) for t in tests]
        rows = [method_rows(r, t) for r, t in zip(base, tests)]
    out: list[dict | None] = [None] * len(tests)
    for f in folds_of(tests, k, seed):
        tr = np.setdiff1d(np.arange(len(tests)), f)
        model = fit_combiner([rows[i] for i in tr], [tests[i] for i in tr], version="cv-fold")
        for i in f:
            out[i] = analyze_cpet(tests[i]["samples"], tests[i]["athlete"], threshold_model=model)
    return out
