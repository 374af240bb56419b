"""Phases of a test: baseline/rest, warm-up, constant stages, the incremental part, rests, recovery.

With a load channel the phases come from `protocol.detect` (the climb followed back from the peak
load). Without one (e.g. Oxynet exports) they come from VO2: the incremental part is the last
climb of VO2 that ends at its peak, and it starts where the last stretch of flat VO2 before it
(a baseline or a constant stage, >= 40 s with a slope below 40 % of the climb's, in the first third of the time to the peak) ends; with no
such stretch it starts with the recording ("onset at recording start"), and when VO2 is already
high there the onset is flagged unknown. Either way the end of exercise leaves out a terminal
collapse of VO2 while the load is still logged (the runner stepping off a moving belt).

A declared protocol (from the test record: kind, start, increment, stage_length_s, baseline_s,
baseline_load) overrides the detected onset and kind; the end of exercise is still read off the data.
"""
from __future__ import annotations

import math

import numpy as np

BIN_S = 10.0            # VO2 is judged on 10-s means
SLOPE_WINDOW_S = 40.0   # local VO2 slope over 40 s: a 90-s window straddled the 60-100-s unloaded stage
                        # many labs run between rest and ramp, so that stage was never seen as flat
FLAT_FRACTION = 0.4     # flat: local slope below 40 % of the climb's
MIN_FLAT_S = 40.0
DISMOUNT_DROP = 0.10    # VO2 (15-s means) falling > 10 % below its last-minute maximum while the load is logged
DISMOUNT_MEAN_S = 15.0
HIGH_START = 0.5        # VO2 at the first sample above half its peak: the recording began mid-test


def _bins(t: np.ndarray, y: np.ndarray):
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if t.size < 3:
        return np.array([]), np.array([])
    edges = np.arange(t[0], t[-1] + BIN_S, BIN_S)
    k = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, max(edges.size - 1, 0))
    cnt = np.bincount(k, minlength=edges.size)
    s = np.bincount(k, weights=y, minlength=edges.size)
    keep = cnt > 0
    return (edges + BIN_S / 2)[keep], (s[keep] / cnt[keep])


def _smooth(y: np.ndarray, k: int = 3) -> np.ndarray:
    if y.size < k:
        return y.copy()
    c = np.concatenate([[0.0], np.cumsum(y)])
    h = k // 2
    i = np.arange(y.size)
    lo, hi = np.clip(i - h, 0, y.size), np.clip(i + h + 1, 0, y.size)
    return (c[hi] - c[lo]) / (hi - lo)


def _local_slopes(bt: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Least-squares slope (per s) over +-45 s around each bin."""
    n = bt.size
    out = np.full(n, np.nan)
    h = SLOPE_WINDOW_S / 2
    lo = np.searchsorted(bt, bt - h, side="left")
    hi = np.searchsorted(bt, bt + h, side="right")
    ct, cy = np.concatenate([[0], np.cumsum(bt)]), np.concatenate([[0], np.cumsum(by)])
    ctt, cty = np.concatenate([[0], np.cumsum(bt * bt)]), np.concatenate([[0], np.cumsum(bt * by)])
    m = (hi - lo).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        st, sy, stt, sty = ct[hi] - ct[lo], cy[hi] - cy[lo], ctt[hi] - ctt[lo], cty[hi] - cty[lo]
        den = stt - st * st / m
        out = np.where((m >= 4) & (den > 0), (sty - st * sy / m) / den, np.nan)
    return out


def end_of_exercise(t: np.ndarray, vo2: np.ndarray, start: float, end: float) -> tuple[float, bool]:
    """End of exercise within [start, end]: before a terminal VO2 collapse, if there is one.

    15-s means every 5 s over the last 3 min; a collapse is the last mean more than 10 % below the
    highest one of the final minute (the same 10 % the plateau rule uses) with the mean 10 s before it
    already 5 % below."""
    m = (t >= max(start, end - 180.0)) & (t <= end)
    tt, vv = t[m], vo2[m]
    ok = np.isfinite(vv)
    tt, vv = tt[ok], vv[ok]
    if tt.size < 6 or tt[-1] - tt[0] < 60:
        return end, False
    # anchored at the last breath: the final mean is the last 15 s, where a dismount shows
    grid = (tt[-1] - DISMOUNT_MEAN_S / 2 - 5.0 * np.arange(int((tt[-1] - tt[0] - DISMOUNT_MEAN_S) // 5.0) + 1))[::-1]
    if grid.size < 4:
        return end, False
    c = np.concatenate([[0.0], np.cumsum(vv)])
    lo = np.searchsorted(tt, grid - DISMOUNT_MEAN_S / 2, side="left")
    hi = np.searchsorted(tt, grid + DISMOUNT_MEAN_S / 2, side="right")
    cnt = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        sm = np.where(cnt > 0, (c[hi] - c[lo]) / np.maximum(cnt, 1), np.nan)
    last_min = grid >= grid[-1] - 60.0
    if not np.isfinite(sm[last_min]).any() or not np.isfinite(sm[-1]):
        return end, False
    i = int(np.nanargmax(np.where(last_min, sm, -np.inf)))
    # the fall must be under way, not one low mean: the mean 10 s earlier is already down by half as much
    if i < grid.size - 3 and sm[-1] < (1 - DISMOUNT_DROP) * sm[i] and sm[-3] < (1 - DISMOUNT_DROP / 2) * sm[i]:
        return float(min(grid[i] + DISMOUNT_MEAN_S / 2, end)), True
    return end, False


def from_gas(t: np.ndarray, vo2: np.ndarray) -> dict:
    """Onset and end of the incremental part from VO2 alone (no load channel)."""
    bt, by = _bins(t, vo2)
    out = {"onset_s": float(t[0]) if t.size else 0.0, "end_s": float(t[-1]) if t.size else 0.0,
           "onset": "unknown", "flats": []}
    if bt.size < 6:
        return out
    sm = _smooth(by)
    ipk = int(np.argmax(sm))
    peak = float(sm[ipk])
    out["end_s"] = float(min(bt[ipk] + BIN_S, t[-1]))
    if ipk < 4:
        return out
    sl = _local_slopes(bt[: ipk + 1], by[: ipk + 1])
    half = sl[ipk // 2: ipk + 1]
    climb = float(np.nanmedian(half)) if np.isfinite(half).any() else float("nan")
    if not (climb > 0):
        return out
    flat = sl < FLAT_FRACTION * climb
    # stretches of flat VO2 before the peak, as (start, end) in s
    stretches = []
    i = 0
    while i <= ipk:
        if flat[i]:
            j = i
            while j + 1 <= ipk and flat[j + 1]:
                j += 1
            a, b = bt[i] - BIN_S / 2, bt[j] + BIN_S / 2
            if b - a >= MIN_FLAT_S - 1e-9:
                stretches.append((float(a), float(b), float(np.mean(by[i: j + 1]))))
            i = j + 1
        else:
            i += 1
    # a pre-test stretch sits in the first third of the time to the peak and below half of the rise;
    # later flat stretches are noise on a slow climb or a plateau, not a baseline or constant stage
    mid = bt[0] + (bt[ipk] - bt[0]) / 3
    stretches = [s for s in stretches if s[1] <= mid + SLOPE_WINDOW_S / 2 and s[2] < by[0] + 0.5 * (peak - by[0])]
    out["flats"] = stretches
    if stretches:
        # a flat window's slope reaches 45 s past its centre: the climb begins about there
        out["onset_s"] = max(stretches[-1][1] - SLOPE_WINDOW_S / 2 + BIN_S, float(t[0]))
        out["onset"] = "detected"
    elif sm[0] <= HIGH_START * peak:
        out["onset"] = "recording_start"
    return out


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def build(t: np.ndarray, vo2: np.ndarray, proto: dict, declared: dict | None = None) -> dict:
    """Phases of the whole test; updates proto's private window for the other modules.

    Returns {"phases": [{"phase", "start_s", "end_s", "load"}...], "incremental": {...}, "flags": [...]}.
    """
    flags: list[tuple[str, str, str]] = []
    t0, tn = (float(t[0]), float(t[-1])) if t.size else (0.0, 0.0)
    phases: list[dict] = []
    segs = proto.get("_segments") or []
    if proto.get("kind") == "constant":
        # a constant-load test has no incremental phase: its phases are the held load and what surrounds it
        for a, b, load, role in segs:
            phases.append({"phase": role, "start_s": a, "end_s": b, "load": float(load)})
        return {"phases": phases, "incremental": None, "flags": flags}
    source = "load" if segs and proto.get("kind") in ("ramp", "steps") else "gas"
    if source == "load":
        w0, w1 = proto["_window"]
        onset = "detected"
        for a, b, load, role in segs:
            if phases and phases[-1]["phase"] == role and role not in ("rest",):
                phases[-1]["end_s"] = b
                phases[-1]["_loads"].append(load)
            else:
                phases.append({"phase": role, "start_s": a, "end_s": b, "_loads": [load]})
        for p in phases:
            loads = p.pop("_loads")
            p["load"] = float(loads[0]) if len(set(loads)) == 1 else None
        if proto.get("kind") == "ramp":
            inc = next((p for p in phases if p["phase"] == "incremental"), None)
            if inc is not None:
                inc["start_s"] = float(proto.get("_ramp_start", inc["start_s"]))
    else:
        g = from_gas(t, vo2)
        w0, w1, onset = g["onset_s"], g["end_s"], g["onset"]
        for k, (a, b, lvl) in enumerate(g["flats"]):
            if b > w0 + SLOPE_WINDOW_S:
                continue
            # the slope window needs data on both sides, so a baseline's flat stretch begins up to half a
            # window after the recording: such a first stretch is the baseline, from the recording's start
            base = k == 0 and a <= t0 + SLOPE_WINDOW_S / 2 + BIN_S
            phases.append({"phase": "baseline" if base else "constant", "start_s": t0 if base else a,
                           "end_s": min(b, w0), "load": None})
        if phases and phases[0]["start_s"] > t0 + BIN_S:
            phases.insert(0, {"phase": "warm_up", "start_s": t0, "end_s": phases[0]["start_s"], "load": None})
        elif not phases and w0 > t0 + BIN_S:
            phases.append({"phase": "warm_up", "start_s": t0, "end_s": w0, "load": None})
        phases.append({"phase": "incremental", "start_s": w0, "end_s": w1, "load": None})
        if w1 < tn:
            phases.append({"phase": "recovery", "start_s": w1, "end_s": tn, "load": None})
    if declared:
        d_kind = declared.get("kind") if declared.get("kind") in ("ramp", "steps") else None
        base = _num(declared.get("baseline_s"))
        if base is not None and base >= 0 and t0 + base < w1:
            # the lab's protocol says when the test started: baseline before, the test after
            w0 = t0 + base
            onset = "declared"
            rests = [p for p in phases if p["phase"] == "rest" and p["start_s"] >= w0]
            phases = [{"phase": "baseline", "start_s": t0, "end_s": w0, "load": _num(declared.get("baseline_load"))},
                      {"phase": "incremental", "start_s": w0, "end_s": w1, "load": None}] + rests
            if w1 < tn:
                phases.append({"phase": "recovery", "start_s": w1, "end_s": tn, "load": None})
        if d_kind:
            proto["kind"] = d_kind
            for key in ("start", "increment", "stage_length_s"):
                if _num(declared.get(key)) is not None:
                    proto[key] = _num(declared.get(key))
        proto["declared"] = {k: declared.get(k) for k in ("kind", "start", "increment", "stage_length_s",
                                                           "baseline_s", "baseline_load") if k in declared}
    # end of exercise: not the stepping off while the belt still runs
    logged_end = w1
    end, dismount = end_of_exercise(t, vo2, w0, w1)
    if dismount:
        flags.append(("dismount", f"VO2 collapsed at {end:.0f} s while the load was still logged to {w1:.0f} s: "
                                  "exercise taken to end there", "info"))
        for p in phases:
            if p["phase"] == "incremental" and p["end_s"] > end:
                p["end_s"] = end
        w1 = end
    if onset == "unknown":
        flags.append(("onset_unknown", "the start of the incremental phase could not be found: thresholds are "
                                       "searched from the start of the recording", "warning"))
    elif onset == "recording_start":
        flags.append(("onset_at_recording_start", "no baseline or constant stage before the climb: the incremental "
                                                  "phase is taken to start with the recording", "info"))
    w1 = max(w1, w0)
    proto["_window"] = (float(w0), float(w1))
    if source == "gas" or onset == "declared":
        proto["_ramp_start"] = float(w0)
    incremental = {"start_s": float(w0), "end_s": float(w1), "source": "declared" if onset == "declared" else source,
                   "onset": onset, "kind": proto.get("kind") if proto.get("kind") in ("ramp", "steps") else None,
                   "end_logged_s": float(logged_end), "dismount": bool(dismount)}
    return {"phases": [{k: (float(v) if isinstance(v, (int, float, np.floating)) and v is not None else v)
                        for k, v in p.items()} for p in phases if p["end_s"] >= p["start_s"]],
            "incremental": incremental, "flags": flags}
