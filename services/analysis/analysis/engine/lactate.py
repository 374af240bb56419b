"""Lactate thresholds from a step test, following the conventions of the R package lactater 0.2.0
(F. Mattioni Maturana, MIT) so that labs get the numbers they know. Reimplemented, not ported.

Conventions matched (read from lactater's documentation and sources):
* A resting baseline row (intensity 0) is moved to one increment below the first step
  (I1 - (I2 - I1)), so it sits on the intensity axis like a step.
* `include_baseline` decides whether that row enters the user-chosen fit (OBLA, Bsln+,
  Log-log, LTP, LTratio). The Dmax family always fits the steps without the baseline.
* Polynomial fits are ordinary least squares on the raw steps; "spline" is a natural cubic
  regression spline with 4 df (knots at the quartiles, as `splines::ns(x, 4)`); the
  exponential model is lactate = a + b*exp(c*x).
* Fixed-concentration methods (OBLA, Bsln+) interpolate linearly between the fitted values
  at the measured steps; if that curve dips and rises again, the crossing on the final
  rising part is used. A target outside the fitted range gives no threshold.
* Log-log, LTP and LTratio work on the steps linearly interpolated to a grid of 0.1 intensity
  units (0.01 for swimming); Log-log and LTP are continuous broken-line fits (as R `segmented`).
* Dmax-type methods solve where the polynomial slope equals the slope of the reference line.
* Heart rate at a threshold is predicted from a straight line of HR vs intensity over the
  steps (baseline row excluded).
* Rounding: intensity to 1 (cycling), 2 (running) or 3 (swimming) decimals; lactate read off a
  curve to 1 decimal; HR to whole beats.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .breakpoints import hinge_fit

FITS = {"poly3", "poly4", "exp", "spline"}
FIT_LABELS = {"poly3": "3rd degree polynomial", "poly4": "4th degree polynomial",
              "exp": "Exponential", "spline": "B-spline"}
METHOD_ORDER = ["Log-log", "OBLA 2.0", "OBLA 2.5", "OBLA 3.0", "OBLA 3.5", "OBLA 4.0",
                "Bsln + 0.5", "Bsln + 1.0", "Bsln + 1.5", "Dmax", "ModDmax", "Exp-Dmax",
                "Log-Poly-ModDmax", "Log-Exp-ModDmax", "LTP1", "LTP2", "LTratio"]
CATEGORIES = {"Log-log": ["Log-log"], "OBLA": METHOD_ORDER[1:6], "Bsln+": METHOD_ORDER[6:9],
              "Dmax": METHOD_ORDER[9:14], "LTP": ["LTP1", "LTP2"], "LTratio": ["LTratio"]}
_DIGITS = {"cycling": 1, "running": 2, "swimming": 3}
_STEP = {"cycling": 0.1, "running": 0.1, "swimming": 0.01}


# ----------------------------------------------------------------------------- models
class _Model:
    kind: str

    def __call__(self, x):  # pragma: no cover - interface
        raise NotImplementedError


class _Poly(_Model):
    def __init__(self, x, y, deg):
        self.kind = "poly%d" % deg
        deg = min(deg, x.size - 1)
        import warnings
        with warnings.catch_warnings():
            # ill-conditioned step data still get a fit; r2 in the result tells how good it is
            warnings.simplefilter("ignore")
            self.p = np.polynomial.Polynomial.fit(x, y, deg)

    def __call__(self, x):
        return np.atleast_1d(self.p(np.asarray(x, float)))

    def slope_roots(self, beta):
        """Real parts of the roots of p'(x) = beta (lactater keeps Re() of complex roots too)."""
        d = self.p.deriv() - beta
        if d.degree() < 1:
            return np.array([])
        return np.real(d.roots())

    def describe(self):
        return {"kind": self.kind, "coefficients": [float(c) for c in self.p.convert().coef]}


class _Spline(_Model):
    """Natural cubic regression spline; same column space as R's ns(x, df=4) plus intercept."""

    def __init__(self, x, y, df=4):
        self.kind = "spline"
        n_int = max(min(df - 1, x.size - 3), 0)
        inner = np.quantile(x, np.arange(1, n_int + 1) / (n_int + 1)) if n_int else np.array([])
        self.knots = np.concatenate([[x.min()], inner, [x.max()]])
        X = self._basis(x)
        self.beta, *_ = np.linalg.lstsq(X, y, rcond=None)

    def _basis(self, x):
        x = np.asarray(x, float)
        k = self.knots
        K = k.size
        cols = [np.ones_like(x), x]
        if K >= 3 and k[-1] > k[0]:
            def d(j):
                den = k[-1] - k[j]
                if den <= 0:
                    return np.zeros_like(x)
                return (np.maximum(x - k[j], 0) ** 3 - np.maximum(x - k[-1], 0) ** 3) / den
            dK1 = d(K - 2)
            for j in range(K - 2):
                cols.append(d(j) - dK1)
        return np.column_stack(cols)

    def __call__(self, x):
        return self._basis(np.atleast_1d(x)) @ self.beta

    def describe(self):
        return {"kind": "spline", "knots": [float(v) for v in self.knots], "df": int(self.knots.size - 1)}


class _Exp(_Model):
    """lactate = a + b*exp(c*x). a, b are linear given c, so only c is searched (variable
    projection): robust where a Gauss-Newton start at (0, 1, 0) may wander."""

    def __init__(self, x, y):
        from scipy.optimize import minimize_scalar
        self.kind = "exp"
        self.x0 = float(x.min())
        self.sx = float(max(np.ptp(x), 1e-9))
        u = (x - self.x0) / self.sx

        def solve(cs):
            E = np.exp(np.clip(cs * u, -700, 700))
            A = np.column_stack([np.ones_like(u), E])
            coef, *_ = np.linalg.lstsq(A, y, rcond=None)
            return coef, float(((A @ coef - y) ** 2).sum())

        grid = np.linspace(-20, 20, 401)
        grid = grid[grid != 0]
        # RSS of the 2-parameter linear fit for every c at once (2x2 normal equations)
        E = np.exp(np.clip(np.outer(grid, u), -700, 700))
        n = float(u.size)
        se, see = E.sum(1), (E * E).sum(1)
        sy, sey, syy = y.sum(), E @ y, float((y * y).sum())
        det = n * see - se * se
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            a_ = (see * sy - se * sey) / det
            b_ = (n * sey - se * sy) / det
            rss = syy - a_ * sy - b_ * sey
        rss = np.where(np.isfinite(rss) & (np.abs(det) > 1e-12 * np.maximum(see, 1)), np.maximum(rss, 0), np.inf)
        i = int(np.argmin(rss))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        res = minimize_scalar(lambda c: solve(c)[1], bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-12})
        cs = float(res.x) if (not np.isfinite(rss[i]) or res.fun <= rss[i]) else float(grid[i])
        (a, b), _ = solve(cs)
        # back to original units: b*exp(cs*(x-x0)/sx) = b*exp(-c x0) * exp(c x)
        self.a, self.c = float(a), cs / self.sx
        self.b_shift = float(b)  # coefficient of exp(c (x - x0)), kept for stable evaluation
        self.b = float(b * math.exp(max(min(-self.c * self.x0, 700), -700)))

    def __call__(self, x):
        x = np.atleast_1d(np.asarray(x, float))
        return self.a + self.b_shift * np.exp(np.clip(self.c * (x - self.x0), -700, 700))

    def describe(self):
        return {"kind": "exp", "a": self.a, "b": self.b, "c": self.c}


def _make_model(kind, x, y):
    if kind == "poly3":
        return _Poly(x, y, 3)
    if kind == "poly4":
        return _Poly(x, y, 4)
    if kind == "spline":
        return _Spline(x, y)
    return _Exp(x, y)


# ----------------------------------------------------------------------------- helpers
def _grid(lo, hi, step):
    """R's seq(lo, hi, by = step)."""
    n = int(math.floor((hi - lo) / step + 1e-10)) + 1
    return lo + np.arange(max(n, 1)) * step


def _approx_ordered(v, x, y):
    """R approx(x, y, xout = v, ties = "ordered"): bisection assuming x sorted, NA outside."""
    n = x.size
    if n < 2 or not np.isfinite(v) or v < x[0] or v > x[-1]:
        return None
    i, j = 0, n - 1
    while i < j - 1:
        m = (i + j) // 2
        if v < x[m]:
            j = m
        else:
            i = m
    if v == x[j]:
        return float(y[j])
    if v == x[i]:
        return float(y[i])
    if x[j] == x[i]:
        return float(y[i])
    return float(y[i] + (y[j] - y[i]) * (v - x[i]) / (x[j] - x[i]))


def _intensity_at(model, xs, target):
    """Intensity where the fitted curve reaches `target` (see module conventions)."""
    fv = model(xs)
    if not np.all(np.isfinite(fv)) or target > fv.max() or target < fv.min():
        return None
    if isinstance(model, _Spline):
        # all crossings of the smooth curve on a fine grid, keep the highest
        g = _grid(xs.min(), xs.max(), (xs.max() - xs.min()) / 2000 if xs.max() > xs.min() else 1)
        fg = model(g) - target
        s = np.nonzero(np.signbit(fg[:-1]) != np.signbit(fg[1:]))[0]
        exact = np.nonzero(fg == 0)[0]
        roots = [float(g[i]) for i in exact]
        for i in s:
            from scipy.optimize import brentq
            try:
                roots.append(float(brentq(lambda z: float(model(z)[0]) - target, g[i], g[i + 1])))
            except ValueError:
                pass
        return max(roots) if roots else None
    val = _approx_ordered(target, fv, xs)
    if val is None:
        d = np.diff(fv)
        neg = np.nonzero(d < 0)[0]
        if neg.size == 0:
            return None
        start = int(neg[-1]) + 1  # first point after the last decrease (the curve's final rise)
        val = _approx_ordered(target, fv[start:], xs[start:])
    return val


class _HR:
    def __init__(self, x, hr):
        ok = np.isfinite(x) & np.isfinite(hr)
        self.ok = ok.sum() >= 2 and np.ptp(x[ok]) > 0
        if self.ok:
            self.b, self.a = np.polyfit(x[ok], hr[ok], 1)

    def __call__(self, x):
        if not self.ok or x is None or not np.isfinite(x):
            return None
        return float(round(self.a + self.b * x))


def _r(v, d):
    if v is None or not np.isfinite(v):
        return None
    return float(round(float(v), d))


# ----------------------------------------------------------------------------- main
def analyze_lactate(steps: list, fit: str = "poly3", include_baseline: bool = True,
                    sport: str = "cycling", methods: list | None = None) -> dict[str, Any]:
    """Lactate thresholds (lactater method names) from step rows {intensity, lactate, heart_rate, length}."""
    flags: list[dict] = []
    fit = fit if fit in FITS else "poly3"
    sport = sport if sport in _DIGITS else "cycling"
    wanted = _wanted(methods)
    out: dict[str, Any] = {"thresholds": [], "fit": None, "sport": sport, "include_baseline": bool(include_baseline),
                           "baseline": None, "flags": flags,
                           "conventions": "lactater 0.2.0 (Mattioni Maturana): see analysis.engine.lactate"}
    rows = []
    for s in steps or []:
        if not isinstance(s, dict):
            continue
        i, la = _num(s.get("intensity")), _num(s.get("lactate"))
        if i is None or la is None:
            continue
        rows.append((i, la, _num(s.get("heart_rate")), _num(s.get("length"))))
    if len(rows) < 4:
        flags.append({"code": "too_few_steps", "message": "at least 4 steps with intensity and lactate are needed"})
        out["thresholds"] = [_empty(m) for m in wanted]
        return out
    I = np.array([r[0] for r in rows])
    L = np.array([r[1] for r in rows])
    HR = np.array([np.nan if r[2] is None else r[2] for r in rows])
    has_base = I[0] == 0 and np.all(I[1:] > 0)
    if has_base:
        shift = I[1] - (I[2] - I[1])
        I = I.copy()
        I[0] = shift
    if np.any(np.diff(I) <= 0):
        flags.append({"code": "intensity_not_increasing",
                      "message": "step intensities must increase; steps were sorted"})
        order = np.argsort(I, kind="stable")
        I, L, HR = I[order], L[order], HR[order]
        _, keep = np.unique(I, return_index=True)
        I, L, HR = I[np.sort(keep)], L[np.sort(keep)], HR[np.sort(keep)]
        if I.size < 4:
            out["thresholds"] = [_empty(m) for m in wanted]
            return out
    base_lac = float(L[0])
    out["baseline"] = {"present": bool(has_base), "lactate": base_lac,
                       "intensity_used": float(I[0]) if has_base else None}
    # steps without the baseline row (Dmax family, HR regression)
    Is, Ls, HRs = (I[1:], L[1:], HR[1:]) if has_base else (I, L, HR)
    use_base = include_baseline and has_base
    Im, Lm = (I, L) if (use_base or not has_base) else (Is, Ls)
    # lactater's 0.1 (0.01) grid; coarser only for absurd ranges, which would otherwise allocate GBs
    step = max(_STEP[sport], float(Im.max() - Im.min()) / 20000.0)
    digits = _DIGITS[sport]
    hr = _HR(Is, HRs)

    res: dict[str, dict] = {}

    def put(name, fitting, x, lac, lac_digits=1, round_lac=True):
        if x is None or not np.isfinite(x):
            res[name] = {"method": name, "fitting": fitting, "intensity": None,
                         "lactate": _r(lac, 2) if lac is not None else None, "heart_rate": None}
            return
        res[name] = {"method": name, "fitting": fitting, "intensity": _r(x, digits),
                     "lactate": (_r(lac, lac_digits) if round_lac else _r(lac, 2)),
                     "heart_rate": hr(float(x))}

    try:
        model = _make_model(fit, Im, Lm)
    except Exception:  # degenerate data (e.g. all intensities equal) -> no thresholds
        flags.append({"code": "fit_failed", "message": "the lactate curve could not be fitted"})
        out["thresholds"] = [_empty(m) for m in wanted]
        return out
    fitted = model(Im)
    ss_tot = float(((Lm - Lm.mean()) ** 2).sum())
    out["fit"] = dict(model.describe(), label=FIT_LABELS[fit],
                      r2=(1 - float(((Lm - fitted) ** 2).sum()) / ss_tot) if ss_tot > 0 else None)
    user_lbl = FIT_LABELS[fit] + " (user-defined)"
    xgrid = _grid(Im.min(), Im.max(), step)
    lin = np.interp(xgrid, Im, Lm)

    # --- Log-log: broken line through log(lactate) vs log(intensity) on the interpolated grid
    loglog_x = loglog_lac = None
    with np.errstate(divide="ignore", invalid="ignore"):
        lx, ly = np.log(xgrid), np.log(lin)
    ok = np.isfinite(lx) & np.isfinite(ly)
    hf = hinge_fit(lx[ok], ly[ok], 1) if ok.sum() >= 6 else None
    if hf:
        loglog_x = round(math.exp(hf["breakpoints"][0]), digits)
        loglog_lac = round(float(model(loglog_x)[0]), 1)
    put("Log-log", user_lbl, loglog_x, loglog_lac)

    # --- OBLA and Bsln+ (fixed concentrations)
    for c in (2.0, 2.5, 3.0, 3.5, 4.0):
        put("OBLA %.1f" % c, user_lbl, _intensity_at(model, Im, c), c, round_lac=False)
    for plus in (0.5, 1.0, 1.5):
        tgt = base_lac + plus
        put("Bsln + %.1f" % plus, user_lbl, _intensity_at(model, Im, tgt), tgt, round_lac=False)

    # --- Dmax family (own fits on the steps without baseline)
    poly_lbl, exp_lbl = "3rd degree polynomial (default)", "Exponential (default)"
    try:
        p3 = _Poly(Is, Ls, 3)
    except Exception:
        p3 = None
    try:
        ex = _Exp(Is, Ls)
    except Exception:
        ex = None
    xmax = float(Is.max())

    def dmax_poly(beta):
        if p3 is None or not np.isfinite(beta):
            return None
        roots = p3.slope_roots(beta)
        roots = roots[roots <= xmax]
        return float(roots.max()) if roots.size else None

    def lac_at(m, x):
        return None if (m is None or x is None) else round(float(m(x)[0]), 1)

    if np.ptp(Is) > 0:
        x = dmax_poly((Ls.max() - Ls.min()) / np.ptp(Is))
        put("Dmax", poly_lbl, x, lac_at(p3, x))
    else:
        put("Dmax", poly_lbl, None, None)
    d = np.diff(Ls)
    rise = np.nonzero(d >= 0.4)[0]
    if rise.size and xmax > Is[rise[0]]:
        j = int(rise[0])
        x = dmax_poly((Ls.max() - Ls[j]) / (xmax - Is[j]))
        put("ModDmax", poly_lbl, x, lac_at(p3, x))
    else:
        put("ModDmax", poly_lbl, None, None)
    x = _exp_dmax(ex, float(Is[0]), float(Is[-1]))
    put("Exp-Dmax", exp_lbl, x, lac_at(ex, x))
    if loglog_x is not None and Is[-1] != loglog_x:
        x = dmax_poly((Ls[-1] - loglog_lac) / (Is[-1] - loglog_x))
        put("Log-Poly-ModDmax", poly_lbl, x, lac_at(p3, x))
        x = _exp_dmax(ex, loglog_x, float(Is[-1]))
        put("Log-Exp-ModDmax", exp_lbl, x, lac_at(ex, x))
    else:
        put("Log-Poly-ModDmax", poly_lbl, None, None)
        put("Log-Exp-ModDmax", exp_lbl, None, None)

    # --- LTP1/LTP2: two-break broken line through lactate vs intensity (interpolated grid)
    hf2 = hinge_fit(xgrid, lin, 2) if xgrid.size >= 8 else None
    if hf2:
        for name, bp in zip(("LTP1", "LTP2"), hf2["breakpoints"]):
            put(name, user_lbl, bp, lac_at(model, bp))
    else:
        put("LTP1", user_lbl, None, None)
        put("LTP2", user_lbl, None, None)

    # --- LTratio: minimum of fitted lactate / intensity on the spline curve
    try:
        sp = _Spline(Im, Lm)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = sp(xgrid) / xgrid
        ratio[~np.isfinite(ratio) | (xgrid <= 0)] = np.inf
        if np.isfinite(ratio).any():
            k = int(np.argmin(ratio))
            put("LTratio", "B-Spline (default)", float(xgrid[k]), round(float(sp(xgrid[k])[0]), 1))
        else:
            put("LTratio", "B-Spline (default)", None, None)
    except Exception:
        put("LTratio", "B-Spline (default)", None, None)

    out["thresholds"] = [res.get(m, _empty(m)) for m in wanted]
    if any(t["intensity"] is None for t in out["thresholds"]):
        flags.append({"code": "some_methods_undetermined",
                      "message": "some methods found no threshold within the tested range"})
    return out


def _exp_dmax(ex, si, sf):
    """Closed form of the Dmax point on a + b e^{cx} between si and sf (Hughson 1987 / lactater)."""
    if ex is None or sf == si or ex.c == 0 or not np.isfinite(ex.c):
        return None
    c = ex.c
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # log((e^{c sf} - e^{c si}) / (c (sf - si))) / c, written to avoid overflow
        m = max(c * sf, c * si)
        num = math.exp(c * sf - m) - math.exp(c * si - m)
        q = num / (c * (sf - si))
        if not q > 0:
            return None
        return (math.log(q) + m) / c


def _wanted(methods):
    if not methods:
        return list(METHOD_ORDER)
    want = []
    for m in methods:
        if m in CATEGORIES:
            want.extend(CATEGORIES[m])
        elif m in METHOD_ORDER:
            want.append(m)
    return [m for m in METHOD_ORDER if m in set(want)] or list(METHOD_ORDER)


def _empty(m):
    return {"method": m, "fitting": None, "intensity": None, "lactate": None, "heart_rate": None}


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
