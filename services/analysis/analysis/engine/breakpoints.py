"""Segmented (piecewise-linear) regression used by V-slope, VE/VCO2, Log-log and LTP.

Every candidate split is scored from prefix sums, so all splits of n points cost O(n)
instead of one least-squares fit per split (which is O(n^2) and far too slow for
breath-by-breath data inside a request).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-12


@dataclass
class TwoLineFit:
    """Two independent lines y = a + b*x left and right of a split (Beaver 1986 V-slope)."""

    split: int            # index of the first point of the right segment (data sorted by x)
    breakpoint_x: float   # intersection of the two lines (clipped to the data range)
    left: tuple[float, float]   # (intercept, slope)
    right: tuple[float, float]
    rss: float
    rss_single: float     # RSS of one line through all points, to judge whether the break is real


def _prefix(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.size + 1)
    out[0] = 0.0
    np.cumsum(a, out=out[1:])
    return out


def _line_stats(n, sx, sy, sxx, sxy, syy):
    """OLS slope, intercept and RSS from sums; vectorised over arrays of sums."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = sx / n
        my = sy / n
        vxx = sxx - sx * mx
        vxy = sxy - sx * my
        vyy = syy - sy * my
        ok = vxx > _EPS * np.maximum(1.0, np.abs(sxx))
        slope = np.where(ok, vxy / np.where(ok, vxx, 1.0), 0.0)
        rss = np.maximum(vyy - slope * vxy, 0.0)
        intercept = my - slope * mx
    return slope, intercept, rss


def two_segment_rss(x: np.ndarray, y: np.ndarray, min_points: int = 3):
    """RSS of the best two-line fit for every split k (left = first k points).

    Returns (ks, rss, left_slope, left_intercept, right_slope, right_intercept) for
    k = min_points .. n - min_points. x and y are centred first so the sums of squares
    do not lose precision (VO2 in mL/min squared over 2000 breaths reaches 1e10).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = x.size
    mx, my = x.mean(), y.mean()
    xc, yc = x - mx, y - my
    Sx, Sy = _prefix(xc), _prefix(yc)
    Sxx, Sxy, Syy = _prefix(xc * xc), _prefix(xc * yc), _prefix(yc * yc)
    ks = np.arange(min_points, n - min_points + 1)
    nl = ks.astype(float)
    nr = n - nl
    bl, al, rl = _line_stats(nl, Sx[ks], Sy[ks], Sxx[ks], Sxy[ks], Syy[ks])
    br, ar, rr = _line_stats(nr, Sx[n] - Sx[ks], Sy[n] - Sy[ks], Sxx[n] - Sxx[ks],
                             Sxy[n] - Sxy[ks], Syy[n] - Syy[ks])
    # back to uncentred intercepts: y - my = a + b (x - mx)  ->  y = (a + my - b mx) + b x
    al = al + my - bl * mx
    ar = ar + my - br * mx
    return ks, rl + rr, bl, al, br, ar


def two_segment_fit(x, y, min_points: int = 3) -> TwoLineFit | None:
    """Beaver-style two-line regression: the split minimising the summed RSS.

    x need not be sorted; points are ordered by x first. Returns None when there are
    too few points for two segments.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    if n < 2 * min_points or np.ptp(x) <= 0:
        return None
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ks, rss, bl, al, br, ar = two_segment_rss(x, y, min_points)
    if ks.size == 0 or not np.any(np.isfinite(rss)):
        return None
    i = int(np.nanargmin(rss))
    k = int(ks[i])
    _, _, rss1 = _line_stats(float(n), x.sum() - n * x.mean(), 0.0,
                             ((x - x.mean()) ** 2).sum(), ((x - x.mean()) * (y - y.mean())).sum(),
                             ((y - y.mean()) ** 2).sum())
    db = br[i] - bl[i]
    lo, hi = x[k - 1], x[k]
    if abs(db) > _EPS:
        xb = (al[i] - ar[i]) / db
        # the intersection should lie near the split; otherwise the split midpoint is the honest answer
        span = x[-1] - x[0]
        if not (lo - 0.1 * span <= xb <= hi + 0.1 * span):
            xb = 0.5 * (lo + hi)
    else:
        xb = 0.5 * (lo + hi)
    xb = float(min(max(xb, x[0]), x[-1]))
    return TwoLineFit(k, xb, (float(al[i]), float(bl[i])), (float(ar[i]), float(br[i])),
                      float(rss[i]), float(rss1))


def two_segment_fit_naive(x, y, min_points: int = 3):
    """Reference implementation: one lstsq fit per split (O(n^2)). For tests and the benchmark only."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    n = x.size
    best = (np.inf, -1)
    for k in range(min_points, n - min_points + 1):
        total = 0.0
        for xs, ys in ((x[:k], y[:k]), (x[k:], y[k:])):
            A = np.column_stack([np.ones_like(xs), xs])
            coef, *_ = np.linalg.lstsq(A, ys, rcond=None)
            total += float(((ys - A @ coef) ** 2).sum())
        if total < best[0]:
            best = (total, k)
    return best[1], best[0]


# --------------------------------------------------------------------------------------
# Continuous broken-line ("hinge") regression, as fitted by R's `segmented` package:
#   y = b0 + b1 x + sum_j c_j (x - psi_j)+
# For a given psi the normal equations only need suffix sums of 1, x, x^2, y, xy over
# the points to the right of psi, so every candidate psi is scored in O(1).
# --------------------------------------------------------------------------------------

class _HingeSums:
    def __init__(self, x: np.ndarray, y: np.ndarray):
        order = np.argsort(x, kind="stable")
        self.x = x[order]
        self.y = y[order]
        # scale to [0, 1] for conditioning; breakpoints are mapped back at the end
        self.x0 = self.x[0]
        self.sc = max(self.x[-1] - self.x[0], _EPS)
        self.u = (self.x - self.x0) / self.sc
        self.ym = self.y.mean()
        v = self.y - self.ym
        self.v = v
        u = self.u
        # suffix sums: S[k] = sum over i >= k
        def suf(a):
            s = np.zeros(a.size + 1)
            s[:-1] = np.cumsum(a[::-1])[::-1]
            return s
        self.S0 = suf(np.ones_like(u))
        self.S1 = suf(u)
        self.S2 = suf(u * u)
        self.Sy = suf(v)
        self.Sxy = suf(u * v)
        self.n = u.size
        self.T1, self.T2 = self.S1[0], self.S2[0]
        self.Ty, self.Txy, self.Tyy = self.Sy[0], self.Sxy[0], float((v * v).sum())

    def rss(self, psis: np.ndarray) -> np.ndarray:
        """psis: (m, p) sorted breakpoints in scaled units -> RSS of each candidate."""
        psis = np.atleast_2d(psis)
        m, p = psis.shape
        q = 2 + p
        G = np.zeros((m, q, q))
        b = np.zeros((m, q))
        G[:, 0, 0] = self.n
        G[:, 0, 1] = G[:, 1, 0] = self.T1
        G[:, 1, 1] = self.T2
        b[:, 0] = self.Ty
        b[:, 1] = self.Txy
        ks = [np.searchsorted(self.u, psis[:, j], side="right") for j in range(p)]
        for j in range(p):
            k, s = ks[j], psis[:, j]
            c0, c1, c2 = self.S0[k], self.S1[k], self.S2[k]
            G[:, 0, 2 + j] = G[:, 2 + j, 0] = c1 - s * c0
            G[:, 1, 2 + j] = G[:, 2 + j, 1] = c2 - s * c1
            G[:, 2 + j, 2 + j] = c2 - 2 * s * c1 + s * s * c0
            b[:, 2 + j] = self.Sxy[k] - s * self.Sy[k]
            for i in range(j):
                # (x - psi_i)+ (x - psi_j)+ with psi_i < psi_j is non-zero only right of psi_j
                si = psis[:, i]
                G[:, 2 + i, 2 + j] = G[:, 2 + j, 2 + i] = c2 - (si + s) * c1 + si * s * c0
        # tiny ridge keeps empty hinges (psi beyond the data) solvable
        G = G + np.eye(q)[None] * 1e-12
        try:
            beta = np.linalg.solve(G, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            beta = np.stack([np.linalg.lstsq(G[i], b[i], rcond=None)[0] for i in range(m)])
        return np.maximum(self.Tyy - (beta * b).sum(axis=1), 0.0), beta


def hinge_fit(x, y, n_breaks: int = 1, grid: int = 200, min_points: int = 2):
    """Continuous piecewise-linear fit with 1 or 2 breakpoints (global grid search + local refinement).

    Returns dict(breakpoints=[...], rss=..., coef=[b0, b1, c1, ...]) in original x units, or None.
    """
    from scipy.optimize import minimize, minimize_scalar

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 + 2 * n_breaks or np.ptp(x) <= 0 or n_breaks not in (1, 2):
        return None
    hs = _HingeSums(x, y)
    u = hs.u
    lo = u[min(min_points, u.size - 1)]
    hi = u[max(u.size - 1 - min_points, 0)]
    if hi <= lo:
        return None
    cand = np.unique(np.concatenate([np.linspace(lo, hi, grid)]))
    if n_breaks == 1:
        r, _ = hs.rss(cand[:, None])
        i = int(np.argmin(r))
        a = cand[max(i - 1, 0)]
        c = cand[min(i + 1, cand.size - 1)]
        if c > a:
            res = minimize_scalar(lambda s: float(hs.rss(np.array([[s]]))[0][0]),
                                  bounds=(a, c), method="bounded", options={"xatol": 1e-9})
            best = np.array([res.x]) if res.fun <= r[i] else np.array([cand[i]])
        else:
            best = np.array([cand[i]])
    else:
        g = cand if cand.size <= 120 else np.linspace(lo, hi, 120)
        i1, i2 = np.triu_indices(g.size, k=1)
        P = np.column_stack([g[i1], g[i2]])
        r, _ = hs.rss(P)
        j = int(np.argmin(r))
        start = P[j]

        def f(p):
            p = np.sort(np.clip(p, lo, hi))
            return float(hs.rss(p[None])[0][0])
        res = minimize(f, start, method="Nelder-Mead",
                       options={"xatol": 1e-9, "fatol": 1e-14, "maxiter": 2000})
        best = np.sort(np.clip(res.x, lo, hi)) if res.fun <= r[j] else start
    rss, beta = hs.rss(best[None])
    bps = [float(hs.x0 + s * hs.sc) for s in best]
    # coefficients in original units: y = b0 + b1 x + sum c_j (x - psi_j)+
    b = beta[0]
    b1 = b[1] / hs.sc
    cj = [bj / hs.sc for bj in b[2:]]
    b0 = b[0] + hs.ym - b1 * hs.x0
    return {"breakpoints": bps, "rss": float(rss[0]), "coef": [float(b0), float(b1)] + [float(c) for c in cj]}
