"""Protocol detection from the load channel (power or treadmill speed).

The load is resampled to 1 s (zero-order hold: a cart logs the set point in force), cut into
runs of constant load, and runs whose load stays within 2 % of the load range of the run's
start are merged (speed jitter is not a stage change). Long runs (>= 55 s) that climb are
stages; many short climbing runs are a ramp (including step-ramps of < 1 min).
"""
from __future__ import annotations

import numpy as np

MIN_STAGE_S = 55.0       # a 1-min stage with a few seconds of logging jitter still counts
STAGE_TAIL_S = 30.0      # stage summaries use the mean of the last 30 s (or the last half)


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


def detect(t: np.ndarray, power: np.ndarray | None, speed: np.ndarray | None) -> dict:
    """Classify the protocol and locate the exercise phase.

    Returns the public `protocol` dict plus private keys (leading underscore) with the
    exercise window and rest intervals for the other modules.
    """
    res = {"kind": "unknown", "load_channel": None, "unit": None, "start": None, "increment": None,
           "increment_unit": None, "stage_length_s": None, "stages": [],
           "_window": (float(t[0]), float(t[-1])) if t.size else (0.0, 0.0), "_rests": [],
           "_stage_bounds": []}
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
    rng = float(np.ptp(L))
    top = float(np.max(L))
    if rng <= 0.02 * max(abs(top), 1e-9):
        res.update(kind="constant", start=float(np.median(L)), increment=0.0,
                   stage_length_s=float(grid[-1] - grid[0] + 1))
        res["_stage_bounds"] = [(float(grid[0]), float(grid[-1]), float(np.median(L)))]
        res["_window"] = (float(grid[0]), float(grid[-1]))
        return res
    tol = 0.02 * rng
    segs = _runs(L, tol)
    vals = np.array([s[2] for s in segs])
    durs = np.array([float(s[1] - s[0]) for s in segs])
    # peak: the last run holding the maximal load; afterwards is recovery
    ipk = int(np.nonzero(vals >= vals.max() - tol)[0][-1])
    base = float(np.min(L))
    # exercise starts at the first run above the resting/base load
    active = [i for i in range(ipk + 1) if vals[i] > base + tol]
    if not active:
        return res
    i0 = active[0]
    longs = [i for i in range(i0, ipk + 1) if durs[i] >= MIN_STAGE_S]
    # a stage must exceed every earlier stage; lower runs in between are rests
    stages = []
    rests = []
    for i in range(i0, ipk + 1):
        if stages and vals[i] < vals[stages[-1]] - tol:
            rests.append(i)
            continue
        if durs[i] >= MIN_STAGE_S or i == ipk:
            if stages and abs(vals[i] - vals[stages[-1]]) <= tol:
                continue
            stages.append(i)
    short_time = sum(durs[i] for i in range(i0, ipk + 1) if durs[i] < MIN_STAGE_S and i not in rests and i != ipk)
    total_time = sum(durs[i] for i in range(i0, ipk + 1) if i not in rests)
    res["_rests"] = [(float(grid[segs[i][0]]), float(grid[segs[i][1] - 1])) for i in rests]
    w0, w1 = float(grid[segs[i0][0]]), float(grid[segs[ipk][1] - 1])
    res["_window"] = (w0, w1)
    if len(longs) >= 2 and len(stages) >= 3 and short_time <= 0.3 * total_time:
        sv = np.array([vals[i] for i in stages])
        complete = [i for i in stages if durs[i] >= MIN_STAGE_S]
        incs = np.diff(sv)
        res.update(kind="steps", start=float(sv[0]),
                   increment=float(np.median(incs)) if incs.size else None, increment_unit=res["unit"],
                   stage_length_s=float(np.median([durs[i] for i in complete[1:] or complete])))
        res["_stage_bounds"] = [(float(grid[segs[i][0]]), float(grid[segs[i][1] - 1]), float(vals[i]))
                                for i in stages]
        return res
    # ramp: from the last long run before the climb (warm-up) to the peak
    # a warm-up is a long first run; later long runs inside a ramp are logging gaps, not warm-ups
    j0 = i0
    ramp_start = float(grid[segs[j0][1] - 1]) if durs[j0] >= MIN_STAGE_S and j0 < ipk else w0
    m = (grid >= ramp_start) & (grid <= w1)
    if m.sum() >= 3 and np.ptp(grid[m]) > 0:
        slope = float(np.polyfit(grid[m], L[m], 1)[0]) * 60.0
    else:
        slope = None
    if slope is None or slope <= 0:
        res.update(kind="unknown")
        return res
    ramp_runs = [durs[i] for i in range(j0 + 1, ipk)]
    if durs[j0] >= MIN_STAGE_S and j0 < ipk:
        start = float(vals[j0])  # warm-up load the ramp starts from
    else:
        # the ramp began between the last baseline breath and the first loaded one: read the
        # fitted ramp line there rather than the first logged (already increased) value
        fit = np.polyfit(grid[m], L[m], 1)
        k = int(np.argmax(ll > base + tol))  # first breath that carries a load
        t_on = 0.5 * (tt[k - 1] + tt[k]) if 0 < k < tt.size else w0
        start = float(round(np.polyval(fit, t_on), 1))
    res.update(kind="ramp", start=start,
               increment=slope, increment_unit=f"{res['unit']}/min",
               stage_length_s=float(np.median(ramp_runs)) if ramp_runs and np.median(ramp_runs) >= 5 else None)
    res["_ramp_start"] = ramp_start
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
