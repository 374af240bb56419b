"""Outlier removal and averaging strategies for breath-by-breath gas exchange.

The strategies and their windows follow the R package spiro (Nolte) so that a lab comparing
with spiro gets the same numbers: 1-s linear interpolation on t = 1..round(max t), then a
centred moving mean whose even windows lean one second forward (R stats::filter, sides = 2).
Windows that are not complete give no value (NaN), so peaks come from full windows only.
"""
from __future__ import annotations

import numpy as np

DEFAULT = {"method": "time", "seconds": 30}
OUTLIER_SD_DEFAULT = 4.0  # Lamarra et al. 1987: breaths outside the local prediction +- 4 SD
BAND_LEVEL_DEFAULT = 0.95  # whippr's cleaning_level: breaths outside the 95 % prediction band
BAND_HALF_WINDOW_S = 30.0  # the band is a local linear fit over +- 30 s (whole-test lines bend at warm-up/recovery)
OUTLIER_METHODS = ("off", "lamarra", "prediction_band")
SAMPLINGS = ("breath-by-breath", "averaged")


def normalise_strategy(averaging: dict | None) -> dict:
    """Validate the averaging request; unknown or broken requests fall back to the 30-s default.

    The default is spiro's: 30-s centred moving time average, no outlier removal, so a lab
    comparing with spiro or a published study gets the same VO2max. Outlier removal is an
    explicit choice (`outliers`: "lamarra" | "prediction_band" | {"method", "sd" | "level"};
    the older `outlier_sd: <n>` means Lamarra at n SD) and is only ever applied to
    breath-by-breath data (see `resolve_outliers`).
    """
    a = averaging if isinstance(averaging, dict) else {}
    m = a.get("method", "time")
    out: dict
    try:
        if m == "time":
            out = {"method": "time", "seconds": _posint(a.get("seconds", 30), 30)}
        elif m == "breath":
            out = {"method": "breath", "breaths": _posint(a.get("breaths", 15), 15)}
        elif m == "bin":
            out = {"method": "bin", "seconds": _posint(a.get("seconds", 30), 30)}
        elif m == "butterworth":
            cutoff = float(a.get("cutoff", 0.04))
            if not (0 < cutoff < 1):
                cutoff = 0.04
            order = _posint(a.get("order", 3), 3)
            order = min(order, 8)
            out = {"method": "butterworth", "cutoff": cutoff, "order": order,
                   "zero_lag": bool(a.get("zero_lag", True))}
        else:
            out = dict(DEFAULT)
    except (TypeError, ValueError):
        out = dict(DEFAULT)
    out["outliers"] = _outlier_request(a)
    sampling = a.get("sampling")
    out["sampling"] = sampling if sampling in SAMPLINGS else None  # None: decided from the time stamps
    out["outlier_sd"] = out["outliers"].get("sd")  # kept for readers of older results; None when off
    return out


def _outlier_request(a: dict) -> dict:
    req = a.get("outliers")
    if isinstance(req, str):
        req = {"method": req}
    if isinstance(req, dict):
        method = req.get("method")
        if method == "lamarra":
            return {"method": "lamarra", "sd": _positive(req.get("sd"), OUTLIER_SD_DEFAULT)}
        if method == "prediction_band":
            level = _positive(req.get("level"), BAND_LEVEL_DEFAULT)
            return {"method": "prediction_band", "level": level if level < 1 else BAND_LEVEL_DEFAULT}
        return {"method": "off"}
    sd = a.get("outlier_sd")
    if sd in (None, False):
        return {"method": "off"}
    try:
        sd = float(sd)
    except (TypeError, ValueError):
        return {"method": "off"}
    return {"method": "lamarra", "sd": sd} if np.isfinite(sd) and sd > 0 else {"method": "off"}


def _positive(v, default):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return f if np.isfinite(f) and f > 0 else default


def infer_sampling(t: np.ndarray) -> str:
    """Breath-by-breath data have irregular intervals; interpolated or averaged exports (1 s, 5 s,
    10 s, 1 min) have regular ones: >= 80 % of the intervals within 5 % of their median."""
    if t.size < 3:
        return "breath-by-breath"
    steps = np.diff(t)
    steps = steps[np.isfinite(steps)]
    if steps.size == 0:
        return "breath-by-breath"
    median = float(np.median(steps))
    if median <= 0:
        return "breath-by-breath"
    regular = float(np.mean(np.abs(steps - median) <= 0.05 * median + 1e-9))
    return "averaged" if regular >= 0.8 else "breath-by-breath"


def resolve_outliers(strategy: dict, t: np.ndarray) -> dict:
    """What the cleaning step will actually do, echoed in the result.

    Outlier rules judge a breath against its neighbours; on interpolated or averaged rows the
    neighbours are near copies of each other (or means of many breaths), so a rule that removes
    a few % of breaths would remove most rows (307 of 340 on one 1-s export): never applied there.
    """
    req = dict(strategy["outliers"])
    declared = strategy.get("sampling")
    sampling = declared or infer_sampling(t)
    strategy["sampling"] = sampling
    strategy["sampling_source"] = "declared" if declared else "time stamps"
    if req["method"] == "off":
        req.update(applied=False, reason="off (default, as spiro)")
    elif sampling != "breath-by-breath":
        req.update(applied=False, reason="not applied: the data are averaged or interpolated, not breath-by-breath")
    else:
        req.update(applied=True, reason=None)
    strategy["outliers"] = req
    strategy["outlier_sd"] = req.get("sd") if req["applied"] and req["method"] == "lamarra" else None
    return req


def outlier_mask(req: dict, t: np.ndarray, vo2: np.ndarray, vco2: np.ndarray) -> np.ndarray:
    """Breaths the requested rule removes (on VO2 or VCO2); all False when not applied."""
    if not req.get("applied"):
        return np.zeros(t.size, bool)
    if req["method"] == "lamarra":
        return local_outliers(vo2, req["sd"]) | local_outliers(vco2, req["sd"])
    return prediction_band_outliers(t, vo2, req["level"]) | prediction_band_outliers(t, vco2, req["level"])


def _posint(v, default):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    if not np.isfinite(f) or f < 1:
        return default
    return int(round(min(f, 100000)))


# ------------------------------------------------------------------------- outliers
def local_outliers(y: np.ndarray, n_sd: float, half: int = 2) -> np.ndarray:
    """Boolean mask of breaths outside the local prediction +- n_sd * SD (Lamarra 1987 style), relative units.

    The local prediction is the median of the `half` breaths either side, the breath itself
    excluded: a spike neither pulls its own prediction nor those of its neighbours (a mean
    would make the spike's neighbours look like outliers too). The SD is estimated robustly
    (1.4826 * MAD of the residuals) so a handful of spikes cannot widen the band meant to
    catch them.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    y = np.asarray(y, float)
    n = y.size
    out = np.zeros(n, bool)
    if n < 2 * half + 3:
        return out
    # the first and last breaths borrow their nearest neighbour (edge padding), so only real gaps are NaN
    pad = np.concatenate([np.full(half, y[0]), y, np.full(half, y[-1])])
    w = sliding_window_view(pad, 2 * half + 1)
    nb = np.delete(w, half, axis=1)
    if np.isnan(nb).any():
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pred = np.nanmedian(nb, axis=1)
    elif nb.shape[1] == 4:
        # median of four = mean of the middle two = (sum - max - min) / 2, much faster than np.median rows
        pred = 0.5 * (nb.sum(axis=1) - nb.max(axis=1) - nb.min(axis=1))
    else:
        pred = np.median(nb, axis=1)
    # breath noise scales with the signal (a 5 % tidal-volume error is 20 mL at rest, 200 mL at
    # VO2max), so the band is set on relative residuals; one absolute SD over the whole test would
    # flag ordinary breaths near the peak and miss spikes at rest
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (y - pred) / np.abs(pred)
    ok = np.isfinite(r)
    if ok.sum() < 5:
        return out
    med = np.median(r[ok])
    sd = 1.4826 * np.median(np.abs(r[ok] - med))
    if not sd > 0:
        return out
    out[ok] = np.abs(r[ok] - med) > n_sd * sd
    return out


def prediction_band_outliers(t: np.ndarray, y: np.ndarray, level: float = BAND_LEVEL_DEFAULT,
                             half_window_s: float = BAND_HALF_WINDOW_S) -> np.ndarray:
    """Breaths outside the `level` prediction band of a local straight line (as whippr's
    linear cleaning, but fitted within +- half_window_s of each breath so warm-up, ramp and
    recovery each get their own line). The breath itself is left out of its own fit; all
    window sums come from prefix sums, so the whole test costs O(n)."""
    from scipy.special import stdtrit

    t = np.asarray(t, float)
    y = np.asarray(y, float)
    out = np.zeros(y.size, bool)
    ok = np.isfinite(t) & np.isfinite(y)
    if ok.sum() < 8:
        return out
    tt, yy = t[ok], y[ok]
    n = tt.size
    lo = np.searchsorted(tt, tt - half_window_s, side="left")
    hi = np.searchsorted(tt, tt + half_window_s, side="right")

    def window_sum(v):
        c = np.concatenate([[0.0], np.cumsum(v)])
        return c[hi] - c[lo] - v  # the breath itself excluded

    m = (hi - lo - 1).astype(float)
    # centre on each breath's own time: x = t - t_i keeps the sums small (no cancellation)
    st, sy = window_sum(tt), window_sum(yy)
    stt, sty, syy = window_sum(tt * tt), window_sum(tt * yy), window_sum(yy * yy)
    sx = st - m * tt
    sxx = stt - 2 * tt * st + m * tt * tt
    sxy = sty - tt * sy
    with np.errstate(divide="ignore", invalid="ignore"):
        cxx = sxx - sx * sx / m
        cxy = sxy - sx * sy / m
        cyy = syy - sy * sy / m
        b = cxy / cxx
        xbar = sx / m
        a = sy / m - b * xbar  # prediction at x = 0 (the breath's own time)
        ss = np.maximum(cyy - b * cxy, 0.0)
        df = m - 2
        s2 = ss / df
        se = np.sqrt(s2 * (1 + 1 / m + xbar * xbar / cxx))
        q = stdtrit(np.maximum(df, 1), 0.5 + level / 2)
        bad = np.abs(yy - a) > q * se
    usable = (m >= 5) & np.isfinite(se) & (se > 0)
    res = np.zeros(n, bool)
    res[usable] = bad[usable]
    out[np.flatnonzero(ok)] = res
    return out


# ------------------------------------------------------------------------- building blocks
def interpolate_1s(t: np.ndarray, cols: dict[str, np.ndarray]):
    """Linear interpolation of every column to t = 1, 2, ..., round(max t) (spiro convention).

    Values outside a column's first/last finite sample are NaN (R approx rule 1).
    """
    tmax = np.nanmax(t) if t.size else np.nan
    if not np.isfinite(tmax) or round(tmax) < 1:
        return np.array([]), {k: np.array([]) for k in cols}
    grid = np.arange(1, int(round(tmax)) + 1, dtype=float)
    out = {}
    for k, y in cols.items():
        ok = np.isfinite(y) & np.isfinite(t)
        if ok.sum() == 0:
            out[k] = np.full(grid.size, np.nan)
        elif ok.sum() == 1:
            v = np.full(grid.size, np.nan)
            v[grid == t[ok][0]] = y[ok][0]
            out[k] = v
        else:
            out[k] = np.interp(grid, t[ok], y[ok], left=np.nan, right=np.nan)
    return grid, out


def moving_mean(y: np.ndarray, k: int) -> np.ndarray:
    """Centred moving mean as R stats::filter(y, rep(1/k, k), sides = 2): window
    [i - (k - 1 - k//2), i + k//2]; NaN if the window is incomplete or holds a NaN."""
    y = np.asarray(y, float)
    n = y.size
    out = np.full(n, np.nan)
    if k < 1 or n < k:
        return out
    bad = ~np.isfinite(y)
    c = np.concatenate([[0.0], np.cumsum(np.where(bad, 0.0, y))])
    cb = np.concatenate([[0], np.cumsum(bad)])
    fwd = k // 2
    idx = np.arange(n)
    lo = idx + fwd - k + 1
    hi = idx + fwd + 1
    ok = (lo >= 0) & (hi <= n)
    lo_, hi_ = lo[ok], hi[ok]
    vals = (c[hi_] - c[lo_]) / k
    vals[(cb[hi_] - cb[lo_]) > 0] = np.nan
    out[ok] = vals
    return out


def bin_means(grid: np.ndarray, y: np.ndarray, k: int):
    """Means of consecutive k-second bins of 1-s data starting at t = 1 s; incomplete last bin dropped.
    The bin's time is its centre (e.g. bin 1..30 s -> 15.5 s)."""
    nb = grid.size // k
    if nb == 0:
        return np.array([]), np.array([])
    yy = y[: nb * k].reshape(nb, k)
    tt = grid[: nb * k].reshape(nb, k).mean(axis=1)
    with np.errstate(invalid="ignore"):
        m = yy.mean(axis=1)  # NaN if the bin has a gap, like an incomplete window
    return tt, m


def butterworth(y: np.ndarray, cutoff: float, order: int, zero_lag: bool) -> np.ndarray:
    """Low-pass Butterworth on 1-s data (cutoff relative to Nyquist, as R signal::butter).

    Zero-lag: forward-backward filtering of the series padded with its mirror images at both
    ends (spiro's way to tame end transients). Gaps are linearly bridged first; leading and
    trailing gaps take the nearest value and are NaN again afterwards.
    """
    from scipy.signal import butter, filtfilt, lfilter

    y = np.asarray(y, float)
    n = y.size
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return np.full(n, np.nan)
    idx = np.arange(n)
    filled = np.interp(idx, idx[ok], y[ok])
    b, a = butter(order, cutoff, "low")
    try:
        if zero_lag:
            ext = np.concatenate([filled[::-1], filled, filled[::-1]])
            res = filtfilt(b, a, ext, padlen=0)[n:2 * n]
        else:
            res = lfilter(b, a, filled)
    except (np.linalg.LinAlgError, ValueError):
        # a high order at a very low cutoff makes the transfer-function form singular: the same filter as
        # second-order sections, which stays stable (the published strategies never get here)
        # second-order sections, run forward and back without initial conditions (the mirror padding absorbs
        # the start-up transient)
        from scipy.signal import sosfilt

        sos = butter(order, cutoff, "low", output="sos")
        if zero_lag:
            ext = np.concatenate([filled[::-1], filled, filled[::-1]])
            res = sosfilt(sos, sosfilt(sos, ext)[::-1])[::-1][n:2 * n]
        else:
            res = sosfilt(sos, filled)
        res = np.where(np.isfinite(res), res, np.nan)
    first, last = idx[ok][0], idx[ok][-1]
    res[:first] = np.nan
    res[last + 1:] = np.nan
    return res


# ------------------------------------------------------------------------- strategy
def apply(strategy: dict, t: np.ndarray, cols: dict[str, np.ndarray]):
    """Average all columns with one strategy. Returns (time, columns)."""
    m = strategy["method"]
    if m == "breath":
        k = strategy["breaths"]
        return t.copy(), {c: moving_mean(v, k) for c, v in cols.items()}
    grid, one = interpolate_1s(t, cols)
    if m == "time":
        k = strategy["seconds"]
        return grid, {c: moving_mean(v, k) for c, v in one.items()}
    if m == "bin":
        k = strategy["seconds"]
        out = {}
        tt = np.array([])
        for c, v in one.items():
            tt, out[c] = bin_means(grid, v, k)
        return tt, out
    return grid, {c: butterworth(v, strategy["cutoff"], strategy["order"], strategy["zero_lag"])
                  for c, v in one.items()}
