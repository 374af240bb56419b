"""Protocol detection from the load channel (power or treadmill speed).

The load is resampled to 1 s (zero-order hold: a cart logs the set point in force), cut into
runs of constant load, and runs whose load stays within 2 % of the load range of the run's
start are merged (speed jitter is not a stage change). Long runs (>= 55 s) that climb are
stages; many short climbing runs are a ramp (including step-ramps of < 1 min).

Where the test starts: the incremental part is the last climb that ends at the peak load,
followed backwards from the peak. A run higher than the one after it ends the climb (a warm-up
above the ramp's start load is a warm-up, not part of the ramp); a short dip between two loads
that keep climbing is a rest inside the test (e.g. a break for a blood sample). A long run at the
foot of a ramp is a constant pre-ramp stage: the ramp starts where it ends. The phases of the
whole test (baseline, warm-up, constant stage, incremental, rests, recovery) are built from this
in `phases.py`, which also handles tests without a load channel.
"""
from __future__ import annotations

import numpy as np

MIN_STAGE_S = 55.0       # a 1-min stage with a few seconds of logging jitter still counts
STAGE_TAIL_S = 30.0      # stage summaries use the mean of the last 30 s (or the last half)
MAX_REST_S = 180.0       # a dip longer than 3 min inside the climb is not a rest between stages
CLIMB_TOL = 0.05         # a climb may wobble by 5 % of the load range (belt-speed readings jitter)
JITTER_S = 11            # running median over 11 s removes single-reading jitter, keeps 20-s steps


def _runs(v: np.ndarray, tol: float):
    """Segments [i0, i1) of near-constant load."""
    n = v.size
    change = np.nonzero(np.abs(np.diff(v)) > 1e-9 * max(1.0, np.nanmax(np.abs(v))))[0] + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [n]])
    segs: list[list] = []
    for a, b in zip(starts, ends):
        val = v[a]
        if segs and abs(val - segs[-1][2]) <= tol:
            segs[-1][1] = b
        else:
            segs.append([a, b, val])
    return segs


def _climb(vals: np.ndarray, durs: np.ndarray, ipk: int, i_first: int) -> tuple[int, list[int]]:
    """Follow the climb backwards from the peak run: (first run of the climb, rest runs inside it)."""
    rng = float(vals.max() - vals.min())
    tol = CLIMB_TOL * rng
    cur = vals[ipk]
    first = ipk
    rests: list[int] = []
    j = ipk - 1
    while j >= i_first:
        if vals[j] <= cur + tol:
            cur = min(cur, vals[j])
            first = j
            j -= 1
            continue
        # vals[j] is above the climb's lowest load so far. The run after it is a rest if it is a short,
        # deep dip (>= 20 % of the load range) between loads that keep climbing; a small drop is
        # the foot of a ramp that starts below an earlier warm-up, so the climb ends there
        dip = first
        if (dip < ipk and durs[dip] <= MAX_REST_S and vals[j] <= vals[dip + 1] + tol
                and min(vals[j], vals[dip + 1]) - vals[dip] >= 0.2 * rng):
            rests.append(dip)
            cur = vals[j]
            first = j
            j -= 1
            continue
        break
    return first, sorted(rests)


def detect(t: np.ndarray, power: np.ndarray | None, speed: np.ndarray | None) -> dict:
    """Classify the protocol and locate the incremental part.

    Returns the public `protocol` dict plus private keys (leading underscore): the incremental
    window `_window`, rests inside it `_rests`, the ramp start `_ramp_start`, stage bounds, and
    `_segments` (every run with its role) for `phases.py`.
    """
    res = {"kind": "unknown", "load_channel": None, "unit": None, "start": None, "increment": None,
           "increment_unit": None, "stage_length_s": None, "stages": [],
           "_window": (float(t[0]), float(t[-1])) if t.size else (0.0, 0.0), "_rests": [],
           "_stage_bounds": [], "_segments": [], "_onset_known": False}
    chan = None
    # prefer a channel that varies (power before speed); a flat non-zero one means constant load
    for want_var in (True, False):
        for name, arr, unit in (("power_w", power, "W"), ("speed_kmh", speed, "km/h")):
            if chan is not None or arr is None:
                continue
            ok = np.isfinite(arr) & np.isfinite(t)
            if ok.sum() >= 3 and np.nanmax(arr[ok]) > 0 and (np.ptp(arr[ok]) > 0 or not want_var):
                chan = (name, arr, ok)
                res["unit"] = unit
    if chan is None or t.size < 3:
        return res
    name, arr, ok = chan
    res["load_channel"] = name
    tt, ll = t[ok], arr[ok]
    grid = np.arange(np.ceil(tt[0]), np.floor(tt[-1]) + 1.0)
    if grid.size < 3:
        return res
    idx = np.clip(np.searchsorted(tt, grid, side="right") - 1, 0, tt.size - 1)
    L = ll[idx]
    if L.size > JITTER_S:
        from scipy.ndimage import median_filter
        L = median_filter(L, size=JITTER_S, mode="nearest")
    rng = float(np.ptp(L))
    top = float(np.max(L))
    if rng <= 0.02 * max(abs(top), 1e-9):
        res.update(kind="constant", start=float(np.median(L)), increment=0.0,
                   stage_length_s=float(grid[-1] - grid[0] + 1))
        res["_stage_bounds"] = [(float(grid[0]), float(grid[-1]), float(np.median(L)))]
        res["_window"] = (float(grid[0]), float(grid[-1]))
        res["_segments"] = [(float(grid[0]), float(grid[-1]), float(np.median(L)), "constant")]
        res["_onset_known"] = True
        return res
    tol = 0.02 * rng
    segs = _runs(L, tol)
    vals = np.array([s[2] for s in segs])
    durs = np.array([float(s[1] - s[0]) for s in segs])
    bounds = [(float(grid[s[0]]), float(grid[s[1] - 1])) for s in segs]
    # peak: the last run holding the maximal load; afterwards is recovery
    ipk = int(np.nonzero(vals >= vals.max() - CLIMB_TOL * rng)[0][-1])
    base = float(np.min(L))
    active = [i for i in range(ipk + 1) if vals[i] > base + tol]
    if not active:
        return res
    i0, rests = _climb(vals, durs, ipk, active[0])
    if vals[i0] <= base + tol:  # the climb reached down to the base load: it starts at the next run
        i0 += 1
    i0 = min(i0, ipk)
    climb = [i for i in range(i0, ipk + 1) if i not in rests]
    longs = [i for i in climb if durs[i] >= MIN_STAGE_S]
    stages = []
    for i in climb:
        if durs[i] >= MIN_STAGE_S or i == ipk:
            if stages and abs(vals[i] - vals[stages[-1]]) <= tol:
                continue
            stages.append(i)
    short_time = sum(durs[i] for i in climb if durs[i] < MIN_STAGE_S and i != ipk)
    total_time = sum(durs[i] for i in climb)
    w0, w1 = bounds[i0][0], bounds[ipk][1]
    res["_rests"] = [bounds[i] for i in rests]
    res["_onset_known"] = True

    def roles(first_incremental: int, constant_runs: set):
        out = []
        for i, (a, b) in enumerate(bounds):
            if i > ipk:
                role = "recovery"
            elif i in rests:
                role = "rest"
            elif i in constant_runs:
                role = "constant"
            elif i >= first_incremental:
                role = "incremental"
            elif vals[i] <= base + tol:
                role = "baseline"
            else:
                role = "warm_up"
            out.append((a, b, float(vals[i]), role))
        return out

    if i0 == ipk and len(climb) == 1:
        # one held load after the baseline/warm-up: a constant-load test
        res.update(kind="constant", start=float(vals[ipk]), increment=0.0, stage_length_s=durs[ipk])
        res["_stage_bounds"] = [(bounds[ipk][0], bounds[ipk][1], float(vals[ipk]))]
        res["_window"] = (w0, w1)
        res["_segments"] = [(a, b, v, "constant" if r == "incremental" else r) for a, b, v, r in roles(i0, set())]
        return res
    if len(longs) >= 2 and len(stages) >= 3 and short_time <= 0.3 * total_time:
        others = [durs[i] for i in stages[1:] if durs[i] >= MIN_STAGE_S]
        constant = set()
        if others and durs[stages[0]] >= 2 * np.median(others) and len(stages) >= 4:
            # a first stage twice as long as the others is a constant pre-test stage, not stage 1
            constant = {stages.pop(0)}
            i0 = stages[0]
            w0 = bounds[i0][0]
        sv = np.array([vals[i] for i in stages])
        complete = [i for i in stages if durs[i] >= MIN_STAGE_S]
        incs = np.diff(sv)
        res.update(kind="steps", start=float(sv[0]),
                   increment=float(np.median(incs)) if incs.size else None, increment_unit=res["unit"],
                   stage_length_s=float(np.median([durs[i] for i in complete[1:] or complete])))
        res["_stage_bounds"] = [(bounds[i][0], bounds[i][1], float(vals[i])) for i in stages]
        res["_window"] = (w0, w1)
        res["_ramp_start"] = w0
        res["_segments"] = roles(i0, constant)
        return res
    # ramp: a first stretch of the climb that holds its load for >= 55 s (no run more than 2 % of
    # the range above the stretch's highest load so far: reading jitter goes up and down, a ramp
    # step only up) is a constant pre-ramp stage, or the warm-up load the ramp starts from; the
    # ramp starts where it ends
    j = i0
    hi = vals[i0]
    while j + 1 < ipk and vals[j + 1] <= hi + tol:
        j += 1
        hi = max(hi, vals[j])
    held = bounds[j][1] - bounds[i0][0] + 1.0
    constant = set(range(i0, j + 1)) if (held >= MIN_STAGE_S and j < ipk) else set()
    ramp_start = bounds[j][1] if constant else w0
    m = (grid >= ramp_start) & (grid <= w1)
    if m.sum() >= 3 and np.ptp(grid[m]) > 0:
        fit = np.polyfit(grid[m], L[m], 1)
        slope = float(fit[0]) * 60.0
    else:
        fit, slope = None, None
    if slope is None or slope <= 0:
        res["_window"] = (w0, w1)
        res["_segments"] = roles(i0, set())
        return res
    ramp_runs = [durs[i] for i in range(j + 1, ipk) if i not in rests]
    if constant:
        start = float(np.median(L[(grid >= bounds[i0][0]) & (grid <= bounds[j][1])]))  # the stage load
    else:
        # the ramp began between the last breath before the climb and the first one on it: read the
        # fitted ramp line there rather than the first logged (already increased) value
        k = int(np.searchsorted(tt, w0, side="left"))
        t_on = 0.5 * (tt[k - 1] + tt[k]) if 0 < k < tt.size else w0
        start = float(round(np.polyval(fit, t_on), 1))
    res.update(kind="ramp", start=start,
               increment=slope, increment_unit=f"{res['unit']}/min",
               stage_length_s=float(np.median(ramp_runs)) if ramp_runs and np.median(ramp_runs) >= 5 else None)
    res["_ramp_start"] = ramp_start
    res["_window"] = (ramp_start, w1)
    res["_segments"] = roles(j + 1 if constant else i0, constant)
    return res


def stage_summaries(proto: dict, t: np.ndarray, cols: dict[str, np.ndarray]) -> list[dict]:
    """Per stage: mean of the last 30 s (or the last half of shorter stages) of the cleaned breaths."""
    out = []
    for n, (a, b, load) in enumerate(proto.get("_stage_bounds", []), start=1):
        # [a, b] are the first and last whole seconds holding this load (zero-order hold), so the
        # breaths of the stage are those up to b; the next breath already carries the next load
        dur = b - a + 1.0
        tail = min(STAGE_TAIL_S, dur / 2.0)
        m = (t > b - tail) & (t <= b)
        row = {"stage": n, "load": float(load), "start_s": float(a), "end_s": float(b),
               "duration_s": float(dur), "averaged_s": float(tail), "n_breaths": int(m.sum())}
        for k, v in cols.items():
            vv = v[m]
            vv = vv[np.isfinite(vv)]
            row[k] = float(vv.mean()) if vv.size else None
        vo2, vco2 = row.get("vo2_ml_min"), row.get("vco2_ml_min")
        row["rer"] = (vco2 / vo2) if (vo2 and vco2 is not None and vo2 > 0) else None
        out.append(row)
    return out
