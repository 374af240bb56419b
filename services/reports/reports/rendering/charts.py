"""Vector charts drawn straight onto the PDF canvas (platypus flowables): line and dot series on a left and an
optional right axis, dashed vertical markers (VT1/VT2, FATmax, lactate thresholds), a legend, tick labels in the
report's language.

Small and fast on purpose: reportlab.graphics' LinePlot (and even plain Drawing shapes) cost several times more per
point and cannot draw a second axis. A line is one PDF path written with `canvas.addLiteral` (points already
reduced by `data.decimate`), so its cost is the formatting of its coordinates, nothing more.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from reportlab.lib import colors
from reportlab.platypus import Flowable

from . import fonts
from .i18n import num

INK = colors.HexColor("#1f2933")
GRID = colors.HexColor("#e4e7eb")
AXIS = colors.HexColor("#9aa5b1")
MUTED = colors.HexColor("#616e7c")
BAND = colors.HexColor("#eef1f4")

BLUE = colors.HexColor("#1f6fb2")
RED = colors.HexColor("#d64545")
GREEN = colors.HexColor("#2f9e44")
ORANGE = colors.HexColor("#e8590c")
PURPLE = colors.HexColor("#7048e8")
GREY = colors.HexColor("#868e96")
TEAL = colors.HexColor("#0c8599")
VT1_COLOR = colors.HexColor("#2b8a3e")
VT2_COLOR = colors.HexColor("#c92a2a")


@dataclass
class Series:
    x: list
    y: list
    color: object = BLUE
    label: str = ""
    axis: str = "left"          # left | right
    width: float = 1.0
    kind: str = "line"          # line | dots | line+dots
    dash: tuple | None = None
    dot: float | None = None    # dot half-size (points); default 0.9 for scatter, 1.6 on a line


@dataclass
class VLine:
    x: float
    label: str
    color: object = GREY


def nice_scale(lo: float, hi: float, ticks: int = 5) -> tuple[float, float, float]:
    """(start, end, step) with a 1-2-2.5-5 step covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi - lo < 1e-9:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(ticks, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = mag * 10
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw - 1e-12:
            step = m * mag
            break
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    return start, end, step


def _decimals(step: float) -> int:
    if step >= 1 and abs(step - round(step)) < 1e-9:
        return 0
    d = max(0, -math.floor(math.log10(step)))
    return d + (1 if abs(step / 10 ** -d - round(step / 10 ** -d)) > 1e-9 else 0)


def _path(points: list, close: str) -> str:
    """'x y m x y l ... S' for a flat [x0, y0, x1, y1, ...] list."""
    it = iter(points)
    coords = [f"{x:.2f} {y:.2f}" for x, y in zip(it, it)]
    return f"{coords[0]} m " + " l ".join(coords[1:]) + f" l {close}"


def _rects(points: list, r: float) -> str:
    it = iter(points)
    side = f"{2 * r:.2f}"
    return " ".join(f"{x - r:.2f} {y - r:.2f} {side} {side} re" for x, y in zip(it, it)) + " f"


@dataclass(eq=False)
class Chart(Flowable):
    width: float
    height: float
    title: str = ""
    x_label: str = ""
    y_label: str = ""
    y2_label: str = ""
    lang: str = "en"
    series: list = field(default_factory=list)
    vlines: list = field(default_factory=list)
    hlines: list = field(default_factory=list)        # (y, color) on the left axis
    bands: list = field(default_factory=list)         # (x0, x1, label): shaded phases of the test, behind the lines
    x_range: tuple | None = None
    y_range: tuple | None = None
    y2_range: tuple | None = None
    empty_text: str = "—"
    font_size: float = 6.5

    def __post_init__(self):
        width, height = float(self.width), float(self.height)
        Flowable.__init__(self)  # resets width and height
        self.width, self.height = width, height

    def add(self, series: Series) -> "Chart":
        if series.x and series.y:
            self.series.append(series)
        return self

    def vline(self, x, label: str, color=GREY) -> "Chart":
        if x is not None and math.isfinite(x):
            self.vlines.append(VLine(float(x), label, color))
        return self

    def band(self, x0, x1, label: str = "") -> "Chart":
        if x0 is not None and x1 is not None and math.isfinite(x0) and math.isfinite(x1) and x1 > x0:
            self.bands.append((float(x0), float(x1), label))
        return self

    def drawing(self) -> "Chart":
        """The flowable itself (kept for callers written against a Drawing)."""
        return self

    # -- platypus
    def wrap(self, available_width, available_height):
        return self.width, self.height

    def _range(self, axis: str) -> tuple[float, float] | None:
        vals = [v for s in self.series if s.axis == axis for v in s.y]
        if not vals:
            return None
        return min(vals), max(vals)

    def draw(self):
        fonts.register()
        c = self.canv
        fs = self.font_size
        regular, bold = fonts.REGULAR, fonts.BOLD
        W, H = self.width, self.height
        c.saveState()
        c.setFont(bold, fs + 1.5)
        c.setFillColor(INK)
        c.drawString(0, H - fs - 1.5, self.title)
        has_right = any(s.axis == "right" for s in self.series)
        left, right = 30.0, (30.0 if has_right else 8.0)
        bottom, top = 22.0, 32.0
        pw, ph = W - left - right, H - bottom - top
        x0, y0 = left, bottom
        # legend (one line under the title)
        c.setFont(regular, fs)
        c.setLineWidth(1.6)
        lx, ly = 0.0, H - 2 * fs - 7
        for s in self.series:
            if not s.label:
                continue
            c.setStrokeColor(s.color)
            c.line(lx, ly + 2.3, lx + 9, ly + 2.3)
            c.setFillColor(MUTED)
            c.drawString(lx + 11, ly, s.label)
            lx += 17 + c.stringWidth(s.label, regular, fs)
        xs = [v for s in self.series for v in s.x]
        if not xs:
            c.setStrokeColor(AXIS)
            c.setLineWidth(0.5)
            c.rect(x0, y0, pw, ph, stroke=1, fill=0)
            c.setFont(regular, fs + 1)
            c.setFillColor(MUTED)
            c.drawCentredString(x0 + pw / 2, y0 + ph / 2, self.empty_text)
            c.restoreState()
            return
        xr = self.x_range or (min(xs), max(xs))
        xa, xb, xstep = nice_scale(*xr, ticks=6)
        if self.x_range:
            xa, xb = self.x_range
        yl = self.y_range or self._range("left") or (0.0, 1.0)
        ya, yb, ystep = nice_scale(*yl, ticks=5)
        y2 = self.y2_range or self._range("right")
        if y2:
            y2a, y2b, y2step = nice_scale(*y2, ticks=5)
        sx = pw / (xb - xa) if xb > xa else 1.0
        sy = ph / (yb - ya) if yb > ya else 1.0
        for b0, b1, label in self.bands:  # phases: light shading under everything, a small label at the foot
            b0, b1 = max(b0, xa), min(b1, xb)
            if b1 <= b0:
                continue
            X0, X1 = x0 + (b0 - xa) * sx, x0 + (b1 - xa) * sx
            c.setFillColor(BAND)
            c.rect(X0, y0, X1 - X0, ph, stroke=0, fill=1)
            if label and c.stringWidth(label, regular, fs - 1) < X1 - X0 - 2:
                c.setFont(regular, fs - 1)
                c.setFillColor(MUTED)
                c.drawCentredString((X0 + X1) / 2, y0 + 2, label)
                c.setFont(regular, fs)
        # grid and tick labels
        c.setLineWidth(0.4)
        c.setStrokeColor(GRID)
        c.setFillColor(MUTED)
        xd, yd = _decimals(xstep), _decimals(ystep)
        v = xa
        while v <= xb + xstep * 1e-6:
            X = x0 + (v - xa) * sx
            if x0 + 0.5 < X < x0 + pw - 0.5:
                c.line(X, y0, X, y0 + ph)
            c.drawCentredString(X, y0 - fs - 2, num(v, xd, self.lang))
            v += xstep
        v = ya
        while v <= yb + ystep * 1e-6:
            Y = y0 + (v - ya) * sy
            if y0 + 0.5 < Y < y0 + ph - 0.5:
                c.line(x0, Y, x0 + pw, Y)
            c.drawRightString(x0 - 2, Y - fs / 3, num(v, yd, self.lang))
            v += ystep
        s2 = 1.0
        if y2:
            s2 = ph / (y2b - y2a) if y2b > y2a else 1.0
            v, d2 = y2a, _decimals(y2step)
            while v <= y2b + y2step * 1e-6:
                c.drawString(x0 + pw + 2, y0 + (v - y2a) * s2 - fs / 3, num(v, d2, self.lang))
                v += y2step
        c.drawCentredString(x0 + pw / 2, 2, self.x_label)
        c.drawString(x0, y0 + ph + 3, self.y_label)
        if y2 and self.y2_label:
            c.drawRightString(x0 + pw, y0 + ph + 3, self.y2_label)
        c.setStrokeColor(AXIS)
        c.setLineWidth(0.5)
        c.rect(x0, y0, pw, ph, stroke=1, fill=0)
        for yv, color in self.hlines:
            if ya <= yv <= yb:
                c.setStrokeColor(color)
                c.setLineWidth(0.6)
                c.setDash(1.5, 1.5)
                Y = y0 + (yv - ya) * sy
                c.line(x0, Y, x0 + pw, Y)
                c.setDash()
        # series, clipped to the plot area
        c.saveState()
        clip = c.beginPath()
        clip.rect(x0, y0, pw, ph)
        c.clipPath(clip, stroke=0, fill=0)
        c.setLineJoin(1)
        c.setLineCap(1)
        for s in self.series:
            if s.axis == "right" and y2:
                oy, ky, base = y2a, s2, y0
            else:
                oy, ky, base = ya, sy, y0
            pts = []
            for a, b in zip(s.x, s.y):
                if xa <= a <= xb:
                    pts.append(x0 + (a - xa) * sx)
                    pts.append(base + (b - oy) * ky)
            if "line" in s.kind and len(pts) >= 4:
                c.setStrokeColor(s.color)
                c.setLineWidth(s.width)
                if s.dash:
                    c.setDash(*s.dash)
                c.addLiteral(_path(pts, "S"))
                if s.dash:
                    c.setDash()
            if "dots" in s.kind and pts:
                c.setFillColor(s.color)
                c.addLiteral(_rects(pts, s.dot or (0.9 if s.kind == "dots" else 1.6)))
        c.restoreState()
        # vertical markers last, on top
        c.setFont(bold, fs)
        for m in self.vlines:
            if xa <= m.x <= xb:
                X = x0 + (m.x - xa) * sx
                c.setStrokeColor(m.color)
                c.setLineWidth(0.9)
                c.setDash(3, 2)
                c.line(X, y0, X, y0 + ph)
                c.setDash()
                c.setFillColor(m.color)
                c.drawString(X + 1.5, y0 + ph - fs - 1, m.label)
        c.restoreState()


class PercentileBar(Flowable):
    """A 0-100 bar in six shades with the athlete's percentile marked (or its band: '<10', '>90', '25-50')."""

    EDGES = (0, 10, 25, 50, 75, 90, 100)
    SHADES = ("#ffc9c9", "#ffe8cc", "#fff3bf", "#d8f5a2", "#b2f2bb", "#8ce99a")

    def __init__(self, width: float, height: float, percentile: float | None, band: str | None, lang: str,
                 color=BLUE):
        super().__init__()
        self.width, self.height = width, height
        self.percentile, self.band, self.lang, self.color = percentile, band, lang, color

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def band_range(self) -> tuple[float, float] | None:
        band = self.band
        if self.percentile is not None or not band:
            return None
        try:
            if band.startswith(">"):
                return float(band[1:]), 100.0
            if band.startswith("<"):
                return 0.0, float(band[1:])
            a, b = band.split("-", 1)
            return float(a), float(b)
        except ValueError:
            return None

    def draw(self):
        fonts.register()
        c, width = self.canv, self.width
        bar_y, bar_h = 12.0, max(6.0, self.height - 26.0)
        c.saveState()
        c.setStrokeColor(colors.white)
        c.setLineWidth(0.8)
        for i in range(6):
            xa, xb = width * self.EDGES[i] / 100, width * self.EDGES[i + 1] / 100
            c.setFillColor(colors.HexColor(self.SHADES[i]))
            c.rect(xa, bar_y, xb - xa, bar_h, stroke=1, fill=1)
        c.setFont(fonts.REGULAR, 6)
        c.setFillColor(MUTED)
        for e in self.EDGES:
            label = num(e, 0, self.lang)
            if e == 0:
                c.drawString(0, 2, label)
            elif e == 100:
                c.drawRightString(width, 2, label)
            else:
                c.drawCentredString(width * e / 100, 2, label)
        lo_hi = self.band_range()
        c.setStrokeColor(self.color)
        if lo_hi:
            c.setLineWidth(1.8)
            c.rect(width * lo_hi[0] / 100, bar_y - 2, width * (lo_hi[1] - lo_hi[0]) / 100, bar_h + 4, stroke=1,
                   fill=0)
        elif self.percentile is not None:
            X = width * max(0.0, min(100.0, self.percentile)) / 100
            c.setLineWidth(2.4)
            c.line(X, bar_y - 3, X, bar_y + bar_h + 3)
            c.setFont(fonts.BOLD, 8)
            c.setFillColor(self.color)
            c.drawCentredString(X, bar_y + bar_h + 5, num(self.percentile, 0, self.lang))
        c.restoreState()


def percentile_bar(width: float, height: float, percentile: float | None, band: str | None, lang: str,
                   color=BLUE) -> PercentileBar:
    return PercentileBar(width, height, percentile, band, lang, color)
