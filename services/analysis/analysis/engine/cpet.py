"""analyze_cpet: the whole CPET report from breath-by-breath columns.

Order of work: clean (exclusions; outliers only when asked for, on breath-by-breath data) -> average -> protocol -> peaks/VO2max ->
thresholds (or the lab's overrides) -> zones, FATmax, norms -> quality flags. Every section
degrades to None plus a quality flag; no finite input raises.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import averaging as avg
from . import fatmax as fatmax_mod
from . import norms, phases as phases_mod, protocol as proto_mod, quality, thresholds as thr, vo2max as vmx, zones as zones_mod
from . import athlete as athlete_mod, overrides as overrides_mod, usability, workrate
from .lactate import analyze_lactate
from .version import ENGINE_VERSION

COLUMNS = ("time_s", "vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "rf_bpm", "vt_l",
           "peto2_mmhg", "petco2_mmhg", "power_w", "speed_kmh", "grade_pct")
SIGNALS = COLUMNS[1:]
MAX_SPAN_S = 4 * 3600.0


def _column(v, n: int | None = None) -> np.ndarray:
    if v is None:
        return np.full(n or 0, np.nan)
    if isinstance(v, np.ndarray) and v.dtype.kind in "fiu":
        a = v.astype(float, copy=True).ravel()
    else:
        try:
            seq = list(v)
        except TypeError:
            seq = []
        try:
            # fast path: numbers and None (-> NaN) convert in C
            a = np.asarray(seq, dtype=float)
            if a.ndim == 1:
                a = a.copy()
                a[~np.isfinite(a)] = np.nan
                return a
        except (TypeError, ValueError, OverflowError):
            pass
        a = np.empty(len(seq))
        for i, x in enumerate(seq):
            try:
                a[i] = float(x) if x is not None and not isinstance(x, (str, bytes)) else np.nan
            except (TypeError, ValueError, OverflowError):
                a[i] = np.nan
    a[~np.isfinite(a)] = np.nan
    return a


def _clean_json(o):
    if isinstance(o, dict):
        return {str(k): _clean_json(v) for k, v in o.items() if not str(k).startswith("_")}
    if isinstance(o, (list, tuple)):
        return [_clean_json(v) for v in o]
    if isinstance(o, (np.bool_, bool)):
        return bool(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        f = float(o)
        return f if math.isfinite(f) else None
    return o


def _nanmax(a):
    a = a[np.isfinite(a)] if a is not None else np.array([])
    return float(a.max()) if a.size else None


def _nanmin(a):
    a = a[np.isfinite(a)] if a is not None else np.array([])
    return float(a.min()) if a.size else None


def _empty_threshold_result():
    return None


def analyze_cpet(samples: dict, athlete: dict | None = None, averaging: dict | None = None,
                 overrides: dict | None = None, lactate: list | None = None,
                 declared_protocol: dict | None = None, threshold_model: Any = "shipped",
                 athlete_record: dict | None = None, file_metadata: dict | None = None,
                 test_date: str | None = None, sport: str | None = None) -> dict[str, Any]:
    """declared_protocol: the test's protocol as the lab entered it ({kind: ramp|steps, start, increment,
    stage_length_s, baseline_s, baseline_load, load_channel?}); it overrides the detected onset and kind,
    and where the file has no load channel the load is rebuilt from it (workrate.py).
    threshold_model: "shipped" (models/vt_combiner.json), a fitted dict (cross-validation), or None
    (rule-based consensus only).
    athlete: the request's values (body mass weighed that day); athlete_record (the athlete on record) and
    file_metadata (the export's header) complete it and are compared (athlete.py).
    sport: the test's modality as the lab recorded it (cycling | running | swimming), which sets the lactate
    methods' units; without it the load channel decides (speed -> running, else cycling).
    Raises overrides.InvalidOverride for overrides that do not fit the test; nothing else raises."""
    flags: list[dict] = []
    strategy = avg.normalise_strategy(averaging)
    overrides = overrides if isinstance(overrides, dict) else {}
    result: dict[str, Any] = {
        "engine_version": ENGINE_VERSION, "averaging": strategy,
        "vo2max": None, "peak": None, "vt1": None, "vt2": None,
        "zones": {"three_zone": [], "five_zone": [], "note": "not computed"},
        "fatmax": None, "protocol": None,
        "quality": {"flags": flags, "outliers_removed": 0, "n_breaths": 0, "excluded_breaths": 0},
        "lactate": None, "status": "analyzed", "insufficient_reasons": [], "athlete": None,
    }
    errors: list[str] = []
    share: dict = {}
    try:
        athlete, result["athlete"] = athlete_mod.resolve(athlete, file_metadata, athlete_record, test_date, flags)
        samples, share = usability.physiological(samples if isinstance(samples, dict) else {}, flags)
        _check_overrides(samples, overrides)
        model = thr.shipped_model() if threshold_model == "shipped" else (
            threshold_model if isinstance(threshold_model, dict) else None)
        declared = declared_protocol if isinstance(declared_protocol, dict) else None
        samples, load_note = _declared_load(samples, declared)
        _run(samples, athlete, strategy, overrides, lactate, result, flags, declared, model, sport)
        if load_note and result["protocol"] is not None:
            result["protocol"]["load_source"] = "declared"
            quality.flag(flags, "load_from_declared_protocol", load_note, "info")
    except overrides_mod.InvalidOverride:
        raise
    except Exception as exc:  # last line of defence: report, never crash a lab's request
        errors.append(type(exc).__name__)
        quality.flag(flags, "analysis_error", f"internal error while analysing: {type(exc).__name__}: {exc}",
                     "error")
    usability.assess(result, flags, share)
    return _clean_json(result)


def _check_overrides(samples: dict, overrides: dict) -> None:
    """What can be checked before the analysis: known keys, excluded ranges inside the recording."""
    overrides_mod.check_keys(overrides)
    if overrides.get("exclude") is not None:
        t = _column(samples.get("time_s"))
        t = t[np.isfinite(t)]
        t0, tn = (float(t.min()), float(t.max())) if t.size else (0.0, 0.0)
        overrides_mod.check_exclude(overrides["exclude"], t0, tn)


def _declared_load(samples: dict, declared: dict | None) -> tuple[dict, str | None]:
    """The declared protocol's load where the file logged none (power and speed missing or all zero)."""
    if not declared:
        return samples, None
    t = _column(samples.get("time_s"))
    for k in ("power_w", "speed_kmh"):
        c = _column(samples.get(k), t.size)
        if c.size == t.size and np.isfinite(c).any() and np.nanmax(np.abs(c)) > 0:
            return samples, None
    built = workrate.rebuild(t, _column(samples.get("vo2_ml_min"), t.size), declared)
    if built is None:
        return samples, None
    ch, load, note = built
    return {**samples, ch: load}, note


def _vo2max_override(result: dict, ov, bw: float | None, athlete: dict, modality: str | None) -> float | None:
    """The lab's VO2max (e.g. from a verification bout) replaces the measured peak; the peak stays beside it."""
    if ov is None or result.get("vo2max") is None:
        return None
    man = overrides_mod.vo2max_override(ov)
    v = man["vo2_ml_min"]
    vm = result["vo2max"]
    rel = v / bw if bw else None
    vm.update(detected_vo2_ml_min=vm["vo2_ml_min"], vo2_ml_min=v, vo2_ml_kg_min=rel, manual=True,
              reason=man["reason"], **norms.percentile(rel, athlete.get("age"), athlete.get("sex"), modality))
    return v


def _run(samples, athlete, strategy, overrides, lactate, result, flags, declared=None, model=None, sport=None):
    samples = samples if isinstance(samples, dict) else {}
    t = _column(samples.get("time_s"))
    n = t.size
    cols = {}
    mismatch = False
    for k in SIGNALS:
        c = _column(samples.get(k), n)
        if c.size != n:
            mismatch = True
            c = np.concatenate([c[:n], np.full(max(n - c.size, 0), np.nan)])
        cols[k] = c
    if mismatch:
        quality.flag(flags, "length_mismatch", "columns have different lengths; cut or padded to time_s")
    ok = np.isfinite(t)
    if ok.sum() < n:
        quality.flag(flags, "missing_time", f"{int(n - ok.sum())} samples without time were dropped")
    order = np.argsort(np.where(ok, t, np.inf), kind="stable")[: int(ok.sum())]
    t = t[order]
    cols = {k: v[order] for k, v in cols.items()}
    if t.size:
        keep = np.concatenate([[True], np.diff(t) > 0])
        if not keep.all():
            quality.flag(flags, "duplicate_time", f"{int((~keep).sum())} samples with repeated time were dropped",
                         "info")
        t = t[keep]
        cols = {k: v[keep] for k, v in cols.items()}
    # physiologically impossible values are missing values
    for k in ("vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm"):
        cols[k][cols[k] <= 0] = np.nan
    quality.channel_flags(flags, cols)
    quality.unit_flags(flags, t, cols)

    # lab exclusions (e.g. coughing, mask leak)
    excl = np.zeros(t.size, bool)
    for rng in overrides.get("exclude") or []:
        try:
            a, b = float(rng[0]), float(rng[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        if math.isfinite(a) and math.isfinite(b):
            excl |= (t >= min(a, b)) & (t <= max(a, b))
    result["quality"]["excluded_breaths"] = int(excl.sum())
    # outlier removal: an explicit option, breath-by-breath data only (averaging.resolve_outliers)
    rule = avg.resolve_outliers(strategy, t)
    out_mask = avg.outlier_mask(rule, t, np.where(excl, np.nan, cols["vo2_ml_min"]),
                                np.where(excl, np.nan, cols["vco2_ml_min"])) & ~excl
    result["quality"]["outliers_removed"] = int(out_mask.sum())
    result["quality"]["outlier_rule"] = _outlier_rule_text(rule)
    keep = ~(excl | out_mask)
    t = t[keep]
    cols = {k: v[keep] for k, v in cols.items()}
    result["quality"]["n_breaths"] = int(t.size)
    noise = quality.noise_flag(flags, cols["vo2_ml_min"])
    result["quality"]["vo2_noise_cv"] = noise

    if t.size and (t[-1] > MAX_SPAN_S or t[-1] - t[0] > MAX_SPAN_S):
        # a CPET lasts minutes; hours mean ms or a wrong column, and a 1-s grid that long is wasted work
        quality.flag(flags, "units_suspicious:time_s",
                     f"time runs to {t[-1]:.0f} s (> {MAX_SPAN_S / 3600:.0f} h): is time in ms?", "error")
        return
    vo2_ok = np.isfinite(cols["vo2_ml_min"])
    if t.size < 10 or vo2_ok.sum() < 10 or (t[-1] - t[0]) <= 0:
        quality.flag(flags, "too_short", "fewer than 10 usable breaths: nothing can be analysed", "error")
        return

    # ---- protocol
    proto = proto_mod.detect(t, cols["power_w"], cols["speed_kmh"])
    stage_cols = {k: cols[k] for k in ("vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "power_w",
                                        "speed_kmh", "petco2_mmhg", "peto2_mmhg")}
    stages = proto_mod.stage_summaries(proto, t, stage_cols) if proto["kind"] in ("steps", "constant") else []
    proto["stages"] = stages
    ph = phases_mod.build(t, cols["vo2_ml_min"], proto, declared)
    proto["phases"], proto["incremental"] = ph["phases"], ph["incremental"]
    for code, text, sev in ph["flags"]:
        quality.flag(flags, code, text, sev)
    result["protocol"] = proto
    w0, w1 = proto["_window"]
    if w1 - w0 < vmx_min_exercise():
        quality.flag(flags, "too_short", f"exercise phase lasts {w1 - w0:.0f} s (< 5 min)")

    # ---- averaging
    ta, A = avg.apply(strategy, t, cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        A["rer"] = A["vco2_ml_min"] / A["vo2_ml_min"]
    ex = (ta >= w0) & (ta <= w1)
    for a, b in proto["_rests"]:
        ex &= ~((ta >= a) & (ta <= b))
    if not np.isfinite(A["vo2_ml_min"][ex]).any():
        ex = np.isfinite(A["vo2_ml_min"])
        if ex.any():
            quality.flag(flags, "window_fallback", "averaged data do not cover the exercise phase; whole test used")
    if not ex.any():
        quality.flag(flags, "too_short", f"the test is shorter than one averaging window ({strategy})", "error")
        return

    # ---- peaks
    vo2_peak = _nanmax(A["vo2_ml_min"][ex])
    i_peak = None
    if vo2_peak is not None:
        cand = np.nonzero(ex & (A["vo2_ml_min"] == vo2_peak))[0]
        i_peak = int(cand[0]) if cand.size else None
    bw = athlete.get("body_mass_kg")
    try:
        bw = float(bw)
        bw = bw if math.isfinite(bw) and 10 <= bw <= 400 else None
    except (TypeError, ValueError):
        bw = None
    if athlete.get("body_mass_kg") is not None and bw is None:
        quality.flag(flags, "body_mass_invalid", "body mass outside 10-400 kg ignored")
    inwin = (t >= w0) & (t <= w1)
    peak = {"vo2_ml_min": vo2_peak,
            "time_s": float(ta[i_peak]) if i_peak is not None else None,
            "rer": _nanmax(A["rer"][ex]),
            "hr_bpm": _peak_median(cols["hr_bpm"][inwin]),
            "power_w": _nanmax(cols["power_w"][inwin]),
            "speed_kmh": _nanmax(cols["speed_kmh"][inwin]),
            "ve_l_min": _nanmax(A["ve_l_min"][ex]),
            "vco2_ml_min": _nanmax(A["vco2_ml_min"][ex])}
    if proto["kind"] == "steps" and stages and proto.get("stage_length_s") and proto.get("increment"):
        last = stages[-1]
        frac = min(last["duration_s"] / proto["stage_length_s"], 1.0)
        prev = stages[-2]["load"] if len(stages) > 1 else last["load"] - proto["increment"]
        # Kuipers et al. 1985: credit the uncompleted last stage pro rata
        peak["load_kuipers"] = prev + frac * (last["load"] - prev)
    result["peak"] = peak
    if peak["rer"] is not None and peak["rer"] < 1.0:
        quality.flag(flags, "no_rer_above_1", f"RER never exceeded 1.0 (max {peak['rer']:.2f}): effort doubtful")
    elif peak["rer"] is None:
        quality.flag(flags, "no_rer", "RER could not be computed")

    # ---- lactate (optional)
    lac_max = None
    if isinstance(lactate, list) and lactate:
        vals = []
        for r in lactate:
            if isinstance(r, dict):
                v = r.get("lactate")
            else:
                v = r
            try:
                v = float(v)
            except (TypeError, ValueError):
                continue
            if math.isfinite(v):
                vals.append(v)
        lac_max = max(vals) if vals else None
        if sum(1 for r in lactate if isinstance(r, dict) and r.get("intensity") is not None) >= 4:
            lactate_sport = sport or ("running" if proto.get("load_channel") == "speed_kmh" else "cycling")
            result["lactate"] = analyze_lactate([r for r in lactate if isinstance(r, dict)], sport=lactate_sport)

    # ---- VO2max verdict
    if proto["kind"] == "steps":
        plateau = vmx.plateau_steps(stages, proto.get("stage_length_s"))
    elif proto["kind"] in ("ramp", "unknown"):
        rs, end, src = _incremental_phase(proto, w1)
        plateau = vmx.plateau_ramp(t, cols["vo2_ml_min"], rs, end, src)
    else:
        plateau = {"method": None, "evaluable": False, "plateau": None,
                   "reason": "constant-load test: no incremental plateau criterion"}
    crit = vmx.criteria(peak["rer"], peak["hr_bpm"], athlete.get("age"), lac_max)
    verdict, basis = vmx.verdict(plateau)
    vo2_rel = (vo2_peak / bw) if (vo2_peak is not None and bw) else None
    modality = {"speed_kmh": "treadmill", "power_w": "cycle"}.get(proto.get("load_channel"))
    nm = norms.percentile(vo2_rel, athlete.get("age"), athlete.get("sex"), modality)
    result["vo2max"] = {"vo2_ml_min": vo2_peak, "vo2_ml_kg_min": vo2_rel, "strategy": strategy,
                        "verdict": verdict, "verdict_basis": basis, "plateau": plateau, "criteria": crit,
                        **nm}
    vo2_ref = _vo2max_override(result, overrides.get("vo2max"), bw, athlete, modality) or vo2_peak
    if vo2_rel is None:
        quality.flag(flags, "no_body_mass", "no body mass: VO2 per kg and norms unavailable", "info")

    # ---- thresholds: searched only inside the incremental phase, on their own 10-s bins
    series = {k: A[k][ex] for k in ("vo2_ml_min", "hr_bpm", "power_w", "speed_kmh")}
    series["time_s"] = ta[ex]
    full = {k: A[k] for k in ("vo2_ml_min", "hr_bpm", "power_w", "speed_kmh")}
    full["time_s"] = ta
    full["load_steps"] = proto.get("kind") == "steps"  # a threshold's load is its stage's (thr.at_time)
    inc = proto.get("incremental")
    vt = {}
    m1, m2 = {}, {}
    markers = None
    if inc is None:
        quality.flag(flags, "thresholds_not_applicable", "no incremental phase (constant-load test): no VT1/VT2",
                     "info")
    else:
        p0, p1 = inc["start_s"], inc["end_s"]
        # a step test with stages long enough for a steady state: one point per stage (its last 30 s)
        stage_pts = thr.stage_points(stages, p0, p1) if proto.get("kind") == "steps" else None
        bins = stage_pts if stage_pts is not None else thr.prepare(t, cols, p0, p1, proto["_rests"])
        if stage_pts is not None and vo2_peak:
            m1, m2 = thr.detect(bins, vo2_peak, stage_ends=True)
            # the combiner was fitted on 10-s bins of ramps: stage points get the rule-based consensus
            model = None
            quality.flag(flags, "thresholds_from_stage_ends", f"step test: VT1/VT2 from the last 30 s of "
                         f"{bins['time_s'].size} stages, rule-based consensus (the combiner is fitted on ramps)",
                         "info")
        elif bins["time_s"].size >= 12 and vo2_peak:
            m1, m2 = thr.detect(bins, vo2_peak)
        else:
            quality.flag(flags, "thresholds_not_computed", "too few data in the incremental phase for thresholds")
        start_vo2 = _nanmax(bins["vo2_ml_min"][:1]) if bins["vo2_ml_min"].size else None
        ctx = thr.context_features(inc.get("onset"), start_vo2, vo2_peak)
        profile = thr.profile_features(bins, vo2_peak)
        markers = thr.vt2_markers(bins, vo2_peak, m1) if m1 else None
        inc["vo2_at_start_ml_min"] = start_vo2
    ramp = proto.get("kind") == "ramp" or (inc is not None and inc.get("source") == "gas")
    for name, methods in (("vt1", m1), ("vt2", m2)):
        auto = None
        mlist = []
        win = (inc["start_s"], inc["end_s"]) if inc else None
        for mname, m in methods.items():
            if m["vo2_ml_min"] is not None:
                row = thr.at_time(full, m["time_s"]) | {"vo2_ml_min": m["vo2_ml_min"]}
            else:
                row = {"time_s": None, "vo2_ml_min": None, "hr_bpm": None, "power_w": None, "speed_kmh": None}
            mlist.append({"method": mname, **row, "fit": m["fit"]})
        if methods:
            c = thr.consensus(name, methods, vo2_peak, ctx, model, profile, markers if name == "vt2" else None)
            if c["vo2_ml_min"] is not None:
                auto = {**thr.at_vo2(full, c["vo2_ml_min"], win), "method": c["method"],
                        "confidence": c["confidence"], "basis": c["basis"], "manual": False,
                        "in_physiological_bounds": c["in_bounds"]}
                auto["load_at_mrt"] = thr.load_at_mrt(full, auto["time_s"], ramp)
                if not c["in_bounds"]:
                    lo, hi = thr.BOUNDS[name]
                    quality.flag(flags, f"{name}_out_of_bounds",
                                 f"{name.upper()} outside {100 * lo:.0f}-{100 * hi:.0f} % of VO2peak: low confidence")
            else:
                quality.flag(flags, f"{name}_undetermined", f"{name.upper()} undetermined ({c['basis']})", "info")
        ov = overrides.get(name)
        if ov is not None and ov != {}:
            auto = overrides_mod.manual_threshold(name, ov, full, win)
        if auto is not None:
            auto["methods"] = mlist
            auto["vo2_pct_max"] = (100.0 * auto["vo2_ml_min"] / vo2_ref
                                   if (auto.get("vo2_ml_min") is not None and vo2_ref) else None)
            if bw and auto.get("vo2_ml_min") is not None:
                auto["vo2_ml_kg_min"] = auto["vo2_ml_min"] / bw
        vt[name] = auto
    manual = {n for n in ("vt1", "vt2") if (vt.get(n) or {}).get("manual")} | ({"vo2max"} if vo2_ref != vo2_peak else set())
    overrides_mod.check_order(vt.get("vt1"), vt.get("vt2"), vo2_ref, manual)
    if vt.get("vt1") and vt.get("vt2") and vt["vt1"]["vo2_ml_min"] is not None and \
            vt["vt2"]["vo2_ml_min"] is not None and vt["vt1"]["vo2_ml_min"] >= vt["vt2"]["vo2_ml_min"]:
        if vt["vt1"].get("manual") or vt["vt2"].get("manual"):
            quality.flag(flags, "threshold_order", "VT1 is not below VT2: check the thresholds")
        else:
            # automatic thresholds must be ordered: an unordered pair is not a result
            quality.flag(flags, "threshold_order", "automatic VT1 not below VT2: both undetermined")
            vt["vt1"] = vt["vt2"] = None
    result["vt1"], result["vt2"] = vt.get("vt1"), vt.get("vt2")

    # ---- zones
    floor = {"hr_bpm": _nanmin(series["hr_bpm"]), "power_w": _nanmin(series["power_w"]),
             "speed_kmh": _nanmin(series["speed_kmh"])}
    result["zones"] = zones_mod.build(result["vt1"], result["vt2"], peak, floor)

    # ---- FATmax
    result["fatmax"] = fatmax_mod.compute(proto["kind"], stages, vo2_peak)


def _incremental_phase(proto: dict, w1: float) -> tuple[float | None, float, str | None]:
    """(onset, end, source) of the incremental part for the plateau rule: the detected phases
    (phases.build) when the protocol carries them, else the ramp found on the load channel. An
    onset flagged unknown is no onset: warm-up or baseline data must not set the expected rise."""
    inc = proto.get("incremental")
    if isinstance(inc, dict) and isinstance(inc.get("start_s"), (int, float)) and \
            isinstance(inc.get("end_s"), (int, float)):
        # the plateau rule cuts a dismount itself, from the end of the logged load
        end = float(inc.get("end_logged_s", inc["end_s"]))
        if inc.get("onset") == "unknown":
            return None, end, "phases"
        return float(inc["start_s"]), end, f"phases ({inc.get('source') or 'detected'})"
    if proto.get("kind") == "ramp" and proto.get("_ramp_start") is not None:
        return float(proto["_ramp_start"]), w1, "protocol"
    return None, w1, None


def _outlier_rule_text(rule: dict) -> str:
    if not rule["applied"]:
        return rule["reason"]
    if rule["method"] == "lamarra":
        return f"local median of 2+2 neighbouring breaths +- {rule['sd']:g} SD (Lamarra 1987)"
    return (f"outside the {100 * rule['level']:g} % prediction band of a local line over "
            f"+-{avg.BAND_HALF_WINDOW_S:g} s (as whippr)")


def vmx_min_exercise():
    return quality.MIN_EXERCISE_S


def _peak_median(y: np.ndarray, k: int = 5) -> float | None:
    """Highest k-sample running median (k = 5 breaths): HRmax without single-beat artefacts."""
    from numpy.lib.stride_tricks import sliding_window_view
    v = y[np.isfinite(y)]
    if v.size == 0:
        return None
    if v.size < k:
        return float(np.median(v))
    return float(np.median(sliding_window_view(v, k), axis=1).max())
