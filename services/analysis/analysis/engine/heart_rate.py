"""Put a heart-rate track (chest strap, watch) onto a test's time axis.

The offset is the test time at which the track's first sample was recorded. It comes from, in order:
  1. time stamps: both the test's start and the track's first sample have clock time (with a zone);
  2. the offset the lab gave;
  3. correlation: the offset within +-MAX_SHIFT_S that maximises the Pearson correlation of HR with VO2
     (both on 5-s means over at least half of the test), since both climb together through an
     incremental test.
The answer says which method was used, the offset and, for correlation, how strong it was. HR is
interpolated onto the test's samples, never across gaps in the track longer than MAX_GAP_S.
"""
from __future__ import annotations

import math

import numpy as np

from ..formats.notices import note

MAX_SHIFT_S = 900.0     # a strap started within 15 min of the cart
STEP_S = 1.0
BIN_S = 5.0
MIN_OVERLAP = 0.5       # the shifted track covers at least half the test
MAX_GAP_S = 5.0
WEAK_R = 0.6


class AlignmentError(ValueError):
    def __init__(self, slug: str, detail: str):
        super().__init__(detail)
        self.slug, self.detail = slug, detail


def _grid(t: np.ndarray, y: np.ndarray, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    edges = np.arange(t0, t1 + BIN_S, BIN_S)
    ok = np.isfinite(t) & np.isfinite(y) & (t >= t0) & (t <= t1)
    k = np.clip(np.searchsorted(edges, t[ok], side="right") - 1, 0, edges.size - 1)
    cnt = np.bincount(k, minlength=edges.size).astype(float)
    s = np.bincount(k, weights=y[ok], minlength=edges.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return edges + BIN_S / 2, np.where(cnt > 0, s / np.where(cnt > 0, cnt, 1), np.nan)


def _correlate(test_t, test_vo2, track_t, track_hr) -> tuple[float, float] | None:
    """(offset, r) maximising corr(HR(t - offset), VO2(t)) over the plausible shifts."""
    ok = np.isfinite(test_t) & np.isfinite(test_vo2)
    if ok.sum() < 10:
        return None
    t0, t1 = float(np.min(test_t[ok])), float(np.max(test_t[ok]))
    if t1 - t0 < 60:
        return None
    gt, gv = _grid(test_t, test_vo2, t0, t1)
    good = np.isfinite(gv)
    best = None
    for off in np.arange(-MAX_SHIFT_S, MAX_SHIFT_S + STEP_S / 2, STEP_S):
        hr = np.interp(gt - off, track_t, track_hr, left=np.nan, right=np.nan)
        m = good & np.isfinite(hr)
        if m.sum() < max(10, MIN_OVERLAP * good.sum()):
            continue
        a, b = gv[m], hr[m]
        sa, sb = a.std(), b.std()
        if sa <= 0 or sb <= 0:
            continue
        r = float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
        if best is None or r > best[1] + 1e-9:
            best = (float(off), r)
    return best


def onto_test(test_t: np.ndarray, track_t: np.ndarray, track_hr: np.ndarray, offset: float) -> np.ndarray:
    """HR at every test sample (NaN outside the track and inside its gaps)."""
    shifted = track_t + offset
    hr = np.interp(test_t, shifted, track_hr, left=np.nan, right=np.nan)
    if shifted.size > 1:
        idx = np.clip(np.searchsorted(shifted, test_t), 1, shifted.size - 1)
        hr[(shifted[idx] - shifted[idx - 1] > MAX_GAP_S) & np.isfinite(hr)] = np.nan
    return hr


def align(test_t, test_vo2, track_t, track_hr, *, test_start: float | None = None,
          track_start: float | None = None, offset_s: float | None = None) -> dict:
    """{method, offset_s, correlation, coverage, hr_bpm (one per test sample, None where unknown), warnings}.
    test_start/track_start: POSIX seconds of the test's time 0 and of the track's first sample."""
    test_t = np.asarray(test_t, dtype=float)
    test_vo2 = np.asarray(test_vo2, dtype=float) if test_vo2 is not None else np.full(test_t.size, np.nan)
    track_t = np.asarray(track_t, dtype=float)
    track_hr = np.asarray(track_hr, dtype=float)
    warnings: list[str] = []
    r = None
    if test_start is not None and track_start is not None:
        method, offset = "timestamps", float(track_start - test_start)
    elif offset_s is not None:
        method, offset = "offset", float(offset_s)
    else:
        best = _correlate(test_t, test_vo2, track_t, track_hr)
        if best is None:
            raise AlignmentError("heart-rate-not-alignable",
                                 "no offset puts the track over half of the test (or the test has too little VO2 "
                                 "to correlate with): give offset_s, the test time at which the track starts")
        method, (offset, r) = "correlation", best
        if r < WEAK_R:
            warnings.append(note("hr_weak_correlation", r=float(r)))
    if not math.isfinite(offset):
        raise AlignmentError("heart-rate-not-alignable", "the offset is not a finite number")
    hr = onto_test(test_t, track_t, track_hr, offset)
    coverage = float(np.isfinite(hr).mean()) if hr.size else 0.0
    if coverage == 0.0:
        raise AlignmentError("heart-rate-no-overlap",
                             f"with an offset of {offset:.0f} s the track ({track_t[-1]:.0f} s long) does not "
                             f"overlap the test")
    if coverage < 0.9:
        warnings.append(note("hr_track_coverage", coverage_pct=round(100 * coverage)))
    return {"method": method, "offset_s": offset, "correlation": r, "coverage": coverage,
            "hr_bpm": [None if not math.isfinite(v) else float(v) for v in hr], "warnings": warnings}
