"""The two report templates as reportlab platypus stories.

`full`: the lab report (athlete and test, VO2max with verdict and FRIEND percentile, peak values, thresholds per
method, six Wasserman panels, zones, FATmax, lactate, comparison, methods, quality notes).
`athlete`: two friendly pages (big VO2max number, percentile, key numbers, one simple chart; zones to train by).
Every section checks what it has and prints what exists; a missing part never raises.
"""
from __future__ import annotations

import datetime as dt
import io
import re

import numpy as np
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (CondPageBreak, KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table,
                                TableStyle)

from . import charts as ch
from . import data as dm
from . import fonts
from .i18n import DASH, clock, date as fmt_date, finite, num, num_range, pace, t, tn

# Binary (zlib) streams without the ASCII85 layer: a third smaller and no pure-Python encoding pass. Valid PDF
# either way; set once for the process that renders reports.
rl_config.useA85 = 0

PAGE_W, PAGE_H = A4
MARGIN = 15 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
ACCENT = colors.HexColor("#1f6fb2")
LIGHT = colors.HexColor("#f1f5f9")
LINE = colors.HexColor("#cbd2d9")
ZONE_COLORS = ["#d0ebff", "#d3f9d8", "#fff3bf", "#ffd8a8", "#ffc9c9"]
ZONE3_COLORS = ["#d3f9d8", "#fff3bf", "#ffc9c9"]


class Styles:
    def __init__(self, accent=None):
        R, B = fonts.REGULAR, fonts.BOLD
        ACCENT = accent or globals()["ACCENT"]
        self.accent = ACCENT
        self.body = ParagraphStyle("body", fontName=R, fontSize=8.5, leading=11, textColor=ch.INK)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7, leading=9, textColor=ch.MUTED)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=7.5, leading=9.2)
        self.cell_b = ParagraphStyle("cell_b", parent=self.cell, fontName=B)
        self.h1 = ParagraphStyle("h1", fontName=B, fontSize=17, leading=21, textColor=ch.INK, spaceAfter=2)
        self.h2 = ParagraphStyle("h2", fontName=B, fontSize=11, leading=14, textColor=ACCENT, spaceBefore=8,
                                 spaceAfter=4)
        self.h3 = ParagraphStyle("h3", fontName=B, fontSize=9, leading=11.5, textColor=ch.INK, spaceBefore=4,
                                 spaceAfter=2)
        self.brand = ParagraphStyle("brand", fontName=B, fontSize=8, leading=10, textColor=ACCENT)
        self.big = ParagraphStyle("big", fontName=B, fontSize=40, leading=44, textColor=ACCENT, alignment=TA_CENTER)
        self.big_unit = ParagraphStyle("big_unit", fontName=R, fontSize=10, leading=12, textColor=ch.MUTED,
                                       alignment=TA_CENTER)
        self.key_value = ParagraphStyle("kv", fontName=B, fontSize=13, leading=16, textColor=ch.INK)
        self.left = ParagraphStyle("left", parent=self.body, alignment=TA_LEFT)


_STYLES: dict = {}


def accent_of(value) -> colors.Color:
    """The tenant's accent colour ("#rrggbb"), or the report's own blue."""
    if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return colors.HexColor(value)
    return ACCENT


def styles(accent=None) -> Styles:
    key = accent.hexval() if accent is not None else None
    if key not in _STYLES:
        fonts.register()
        _STYLES[key] = Styles(accent)
    return _STYLES[key]


def P(text, style) -> Paragraph:
    return Paragraph(text, style)


def E(text) -> str:
    return escape(str(text)) if text not in (None, "") else DASH


def grid_table(rows, col_widths, *, header_rows=1, bold_rows=(), zebra=True, extra=None, font_size=7.5) -> Table:
    """A table of plain strings or flowables with the report's look."""
    table = Table(rows, colWidths=col_widths, repeatRows=header_rows, hAlign="LEFT")
    cmds = [
        ("FONT", (0, 0), (-1, -1), fonts.REGULAR, font_size),
        ("FONT", (0, 0), (-1, header_rows - 1), fonts.BOLD, font_size - 0.5),
        ("TEXTCOLOR", (0, 0), (-1, header_rows - 1), ch.MUTED),
        ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.6, LINE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ] if header_rows else [
        ("FONT", (0, 0), (-1, -1), fonts.REGULAR, font_size),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if zebra:
        for i in range(header_rows, len(rows)):
            if (i - header_rows) % 2:
                cmds.append(("BACKGROUND", (0, i), (-1, i), LIGHT))
    for i in bold_rows:
        cmds.append(("FONT", (0, i), (-1, i), fonts.BOLD, font_size))
    if extra:
        cmds.extend(extra)
    table.setStyle(TableStyle(cmds))
    return fit_cells(table)


MIN_FONT = 5.0


def fitted_paragraph(text: str, width: float, font: str, size: float, color=None, min_size: float = MIN_FONT
                     ) -> Paragraph:
    """`text` wrapped at spaces into `width`, the font made smaller until its longest word fits."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    words = str(text).split() or [""]
    while size > min_size and max(stringWidth(w, font, size) for w in words) > width:
        size -= 0.25
    style = ParagraphStyle("fit", fontName=font, fontSize=size, leading=size * 1.2, splitLongWords=0,
                           textColor=color if color is not None else ch.INK)
    return Paragraph(escape(str(text)), style)


def fit_cells(table: Table) -> Table:
    """Every plain-string cell wider than its column becomes a wrapped paragraph in the cell's own font and colour
    (smaller if one word would not fit), so that text never runs into the next column."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    spanned = set()
    for cells in getattr(table, "_spanCmds", []):
        _, (c0, r0), (c1, r1) = cells
        n_cols, n_rows = len(table._colWidths), len(table._cellvalues)
        c1, r1 = c1 % n_cols, r1 % n_rows
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                spanned.add((r, c))
    for i, row in enumerate(table._cellvalues):
        for j, value in enumerate(row):
            if not isinstance(value, str) or not value or (i, j) in spanned:
                continue
            cs = table._cellStyles[i][j]
            width = float(table._colWidths[j]) - cs.leftPadding - cs.rightPadding
            if stringWidth(value, cs.fontname, cs.fontsize) > width:
                row[j] = fitted_paragraph(value, width, cs.fontname, cs.fontsize, cs.color)
    return table


# ------------------------------------------------------------------ helpers over the result


class View:
    """ReportData read for printing: safe getters and the few derived values every section needs."""

    def __init__(self, data: dm.ReportData, lang: str):
        self.d, self.lang = data, lang
        r = data.result or {}
        self.r = r
        self.vo2max = r.get("vo2max") if isinstance(r.get("vo2max"), dict) else {}
        self.peak = r.get("peak") if isinstance(r.get("peak"), dict) else {}
        self.vt = {k: (r.get(k) if isinstance(r.get(k), dict) else None) for k in ("vt1", "vt2")}
        self.zones = r.get("zones") if isinstance(r.get("zones"), dict) else {}
        self.protocol = r.get("protocol") if isinstance(r.get("protocol"), dict) else {}
        self.fatmax = r.get("fatmax") if isinstance(r.get("fatmax"), dict) else None
        self.quality = r.get("quality") if isinstance(r.get("quality"), dict) else {}
        self.age = data.athlete.age_on(data.test.date or dt.date.today())
        self.mass = data.athlete.body_mass_kg
        self.brand = data.branding
        self.accent = accent_of(self.brand.accent_color)
        self.has_hr = dm.has_values(data.samples.get("hr_bpm")) or finite(self.peak.get("hr_bpm")) is not None
        self.has_cpet = data.has_cpet
        self.has_lactate = data.has_lactate

    def tr(self, key, **kw):
        return t(self.lang, key, **kw)

    def n(self, v, d=0, **kw):
        return num(v, d, self.lang, **kw)

    @property
    def load_kind(self) -> str | None:
        ch_ = self.protocol.get("load_channel")
        if ch_ == "power_w":
            return "power"
        if ch_ == "speed_kmh":
            return "speed"
        for key, kind in (("power_w", "power"), ("speed_kmh", "speed")):
            col = self.d.samples.get(key)
            if dm.has_values(col) and float(np.nanmax(col)) > 0:
                return kind
        for kind, key in (("power", "power_w"), ("speed", "speed_kmh")):
            if finite(self.peak.get(key)) is not None:
                return kind
        return None

    def vo2_kg(self, ml_min, given=None):
        g = finite(given)
        if g is not None:
            return g
        v, m = finite(ml_min), finite(self.mass)
        return v / m if v is not None and m else None

    @property
    def vo2max_kg(self):
        return self.vo2_kg(self.vo2max.get("vo2_ml_min"), self.vo2max.get("vo2_ml_kg_min"))

    def load_text(self, row: dict | None, with_unit=True) -> str:
        row = row or {}
        kind = self.load_kind
        if kind == "power":
            v = finite(row.get("power_w"))
            return DASH if v is None else f"{self.n(v)} {self.tr('u_w')}" if with_unit else self.n(v)
        if kind == "speed":
            v = finite(row.get("speed_kmh"))
            return DASH if v is None else f"{self.n(v, 1)} {self.tr('u_kmh')}" if with_unit else self.n(v, 1)
        return DASH

    def verdict_text(self) -> str:
        v = self.vo2max.get("verdict")
        if v == "vo2max":
            return self.tr("verdict_vo2max")
        if v == "vo2peak":
            plateau = self.vo2max.get("plateau") or {}
            return self.tr("verdict_vo2peak" if plateau.get("evaluable", True) else "verdict_vo2peak_ne")
        return DASH

    def percentile_text(self) -> str:
        p = finite(self.vo2max.get("percentile"))
        band = self.vo2max.get("percentile_band")
        if p is not None:
            return self.tr("percentile_value", p=self.n(p))
        if isinstance(band, str) and band:
            if band.startswith(">"):
                return self.tr("band_gt90")
            if band.startswith("<"):
                return self.tr("band_lt10")
            if "-" in band:
                a, b = band.split("-", 1)
                return self.tr("band_range", a=a, b=b)
        return self.tr("no_norm")

    def has_norm(self) -> bool:
        return finite(self.vo2max.get("percentile")) is not None or bool(self.vo2max.get("percentile_band"))

    def modality_text(self) -> str:
        m = self.d.test.modality
        if not m:
            kind = self.load_kind
            m = {"power": "cycle", "speed": "treadmill"}.get(kind or "", "")
        key = {"treadmill": "modality_treadmill", "running": "modality_treadmill", "cycle": "modality_cycle",
               "cycling": "modality_cycle", "cycle_ergometer": "modality_cycle", "bike": "modality_cycle",
               "rowing": "modality_rowing", "arm": "modality_arm", "field": "modality_field",
               "other": "modality_other"}.get(str(m).lower())
        return self.tr(key) if key else E(m)

    def protocol_text(self) -> str:
        parts = []
        p = self.protocol
        kind = p.get("kind")
        declared = self.d.test.protocol
        if declared and str(declared).lower() in ("ramp", "steps", "constant"):
            if str(declared).lower() != kind:
                parts.append(self.tr(f"protocol_{str(declared).lower()}"))
        elif declared:
            parts.append(E(declared))
        if kind:
            bits = [self.tr(f"protocol_{kind}") if kind in ("ramp", "steps", "constant", "unknown") else E(kind)]
            unit = {"W": self.tr("u_w"), "km/h": self.tr("u_kmh")}.get(p.get("unit"), p.get("unit") or "")
            if finite(p.get("start")) is not None:
                bits.append(self.tr("protocol_start", v=self.n(p["start"], 0 if unit == self.tr("u_w") else 1),
                                    unit=unit))
            if finite(p.get("increment")) is not None:
                inc_unit = {"W": self.tr("u_w"), "W/min": self.tr("u_w_min"), "km/h": self.tr("u_kmh"),
                            "km/h/min": self.tr("u_kmh_min")}.get(p.get("increment_unit"), p.get("increment_unit")
                                                                   or unit)
                bits.append(self.tr("protocol_increment", v=self.n(p["increment"], 0 if "W" in str(
                    p.get("increment_unit")) else 1), unit=inc_unit))
            if finite(p.get("stage_length_s")) is not None and kind == "steps":
                bits.append(self.tr("protocol_stage", v=self.n(p["stage_length_s"])))
            parts.append(", ".join(bits))
        return "; ".join(parts) or DASH

    def environment_text(self) -> str:
        env = self.d.test.environment or {}
        bits = []
        if finite(env.get("temperature_c")) is not None:
            bits.append(self.tr("env_temperature", v=self.n(env["temperature_c"], 1)))
        if finite(env.get("pressure_hpa")) is not None:
            bits.append(self.tr("env_pressure", v=self.n(env["pressure_hpa"])))
        elif finite(env.get("pressure_mmhg")) is not None:
            bits.append(self.tr("env_pressure_mmhg", v=self.n(env["pressure_mmhg"])))
        if finite(env.get("humidity_pct")) is not None:
            bits.append(self.tr("env_humidity", v=self.n(env["humidity_pct"])))
        return ", ".join(bits) or DASH

    def norm_text(self) -> str:
        """The engine's norm source ("FRIEND treadmill 2015 (citation); male, 20-29 y") in the report's
        language: the citation stays as published, the rest is translated."""
        src = self.vo2max.get("norm_source")
        if not src:
            return DASH
        m = re.fullmatch(r"FRIEND (.+?) (\d{4}) \((.+)\)(?:; (male|female), (\d+)-(\d+) y)?", str(src).strip())
        if not m:
            return E(src)
        modality, year, citation, sex, a, b = m.groups()
        key = {"treadmill": "modality_treadmill", "cycle ergometer": "modality_cycle", "cycle": "modality_cycle",
               "cycling": "modality_cycle", "running": "modality_treadmill"}.get(modality.lower())
        text = self.tr("norm_text", year=year, modality=self.tr(key) if key else E(modality), citation=E(citation))
        if sex:
            text += "; " + self.tr("norm_group", group=self.tr(f"norm_group_{sex}"),
                                   range=self.tr("years_range", a=a, b=b))
        return text

    def method_name(self, name) -> str:
        """A detection method's published name (V-slope, VE/VO2, PetO2 …); the engine's own words translated."""
        name = str(name or "")
        if name in ("combined", "consensus"):
            return self.tr(f"method_label_{name}") if name == "combined" else self.tr("consensus")
        return E(name) if name else DASH

    def sex_group(self) -> str:
        return self.tr({"male": "group_male", "female": "group_female"}.get(self.d.athlete.sex or "", "group_any"))

    def zone_name(self, model: str, index: int, raw) -> str:
        count = 3 if model == "three_zone" else 5
        if index < count:
            return self.tr(f"z{count}_{index + 1}")
        return E(raw)


# ------------------------------------------------------------------ sections


def header(v: View, s: Styles, title_key: str) -> list:
    """The title; the lab's name, logo and contacts are on every page's header (canvas_maker)."""
    return [P(v.tr(title_key), s.h1)]


def details(v: View, s: Styles) -> Table:
    a, test = v.d.athlete, v.d.test
    sex = v.tr(f"sex_{a.sex}") if a.sex in ("male", "female") else DASH
    bmi = None
    if a.body_mass_kg and a.height_cm:
        bmi = a.body_mass_kg / (a.height_cm / 100) ** 2
    left = [
        (v.tr("name"), P(f"<b>{E(a.name)}</b>", s.cell)),
        (v.tr("sex"), sex),
        (v.tr("birth_date"), fmt_date(a.birth_date, v.lang) if a.birth_date else DASH),
        (v.tr("age"), tn(v.lang, "age_value", v.age) if v.age is not None else DASH),
        (v.tr("body_mass"), f"{v.n(a.body_mass_kg, 1)} {v.tr('u_kg')}" if a.body_mass_kg else DASH),
        (v.tr("height"), f"{v.n(a.height_cm, 0)} {v.tr('u_cm')}" if a.height_cm else DASH),
        (v.tr("bmi"), v.n(bmi, 1)),
        (v.tr("sport"), E(a.sport)),
    ]
    right = [
        (v.tr("test_date"), fmt_date(test.date, v.lang)),
        (v.tr("modality"), P(v.modality_text(), s.cell)),
        (v.tr("protocol"), P(v.protocol_text(), s.cell)),
        (v.tr("device"), P(E(test.device), s.cell)),
        (v.tr("environment"), v.environment_text()),
        (v.tr("lab"), P(E(test.lab or v.brand.lab_name), s.cell)) if (test.lab or v.brand.lab_name) else ("", ""),
        (v.tr("operator"), E(test.operator)),
        ("", ""),
    ]
    section = ParagraphStyle("section", fontName=fonts.BOLD, fontSize=9, leading=11, textColor=s.accent)
    rows = [[P(v.tr("section_athlete"), section), "", P(v.tr("section_test"), section), ""]]
    for (k1, v1), (k2, v2) in zip(left, right):
        rows.append([k1, v1, k2, v2])
    w = CONTENT_W
    return grid_table(rows, [0.15 * w, 0.31 * w, 0.16 * w, 0.38 * w], zebra=False, extra=[
        ("TEXTCOLOR", (0, 1), (0, -1), ch.MUTED), ("TEXTCOLOR", (2, 1), (2, -1), ch.MUTED),
        ("FONT", (0, 0), (-1, 0), fonts.BOLD, 9), ("TEXTCOLOR", (0, 0), (-1, 0), s.accent),
        ("SPAN", (0, 0), (1, 0)), ("SPAN", (2, 0), (3, 0)), ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ])


def criteria_lines(v: View) -> list[str]:
    c = v.vo2max.get("criteria") if isinstance(v.vo2max.get("criteria"), dict) else {}
    out = []

    def state(item):
        p = item.get("pass")
        return v.tr("crit_met") if p is True else v.tr("crit_not_met") if p is False else v.tr("crit_not_measured")

    rer = c.get("rer_max") if isinstance(c.get("rer_max"), dict) else None
    if rer:
        out.append(f"{v.tr('crit_rer', v=v.n(rer.get('value'), 2), thr=v.n(rer.get('threshold'), 2))}: {state(rer)}")
    hr = c.get("hr_max") if isinstance(c.get("hr_max"), dict) else None
    if hr:
        out.append(f"{v.tr('crit_hr', v=v.n(hr.get('value')), pred=v.n(c.get('hr_pred_max')))}: {state(hr)}")
    la = c.get("lactate_max") if isinstance(c.get("lactate_max"), dict) else None
    if la and finite(la.get("value")) is not None:
        out.append(f"{v.tr('crit_lactate', v=v.n(la.get('value'), 1), thr=v.n(la.get('threshold'), 1))}: "
                   f"{state(la)}")
    if c.get("evaluated"):
        out.append(v.tr("crit_summary", met=c.get("met", 0), n=c.get("evaluated")))
    return out


def vo2max_block(v: View, s: Styles) -> list:
    if not v.vo2max:
        return [P(v.tr("section_vo2max"), s.h2), P(DASH, s.body)]
    w = CONTENT_W
    label = v.tr("vo2max") if v.vo2max.get("verdict") != "vo2peak" else v.tr("vo2peak")
    left = [P(label, s.big_unit), P(v.n(v.vo2max_kg, 1), s.big), P(v.tr("u_ml_kg_min"), s.big_unit),
            Spacer(1, 3),
            P(f"{v.n(finite(v.vo2max.get('vo2_ml_min')) / 1000 if finite(v.vo2max.get('vo2_ml_min')) else None, 2)}"
              f" {v.tr('u_l_min')} · {v.n(v.vo2max.get('vo2_ml_min'))} {v.tr('u_ml_min')}", s.big_unit)]
    right = [P(f"<b>{v.tr('verdict')}:</b> {v.verdict_text()}", s.body), Spacer(1, 2)]
    crit = criteria_lines(v)
    if crit:
        right.append(P(f"<b>{v.tr('criteria')}:</b> " + "; ".join(crit), s.small))
    right.append(Spacer(1, 4))
    right.append(P(f"<b>{v.tr('percentile')}:</b> {v.percentile_text()}", s.body))
    if v.has_norm():
        right.append(ch.percentile_bar(0.58 * w - 12, 34, finite(v.vo2max.get("percentile")),
                                       v.vo2max.get("percentile_band"), v.lang))
    if v.vo2max.get("norm_source"):
        right.append(P(f"{v.tr('norm_source')}: {v.norm_text()}", s.small))
    table = Table([[left, right]], colWidths=[0.4 * w, 0.6 * w])
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), fonts.REGULAR, 8), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BACKGROUND", (0, 0), (0, 0), LIGHT),
                               ("BOX", (0, 0), (-1, -1), 0.6, LINE), ("LEFTPADDING", (1, 0), (1, 0), 10),
                               ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    return [P(v.tr("section_vo2max"), s.h2), table]


def peak_block(v: View, s: Styles) -> list:
    p = v.peak
    if not p:
        return []
    items = [(v.tr("peak_vo2"), f"{v.n(p.get('vo2_ml_min'))} {v.tr('u_ml_min')}"),
             (v.tr("peak_hr"), f"{v.n(p.get('hr_bpm'))} {v.tr('u_bpm')}"),
             (v.tr("peak_rer"), v.n(p.get("rer"), 2)),
             (v.tr("peak_ve"), f"{v.n(p.get('ve_l_min'), 1)} {v.tr('u_l_min')}")]
    if finite(p.get("power_w")) is not None:
        wkg = finite(p["power_w"]) / v.mass if v.mass else None
        items.append((v.tr("peak_power"), f"{v.n(p['power_w'])} {v.tr('u_w')}" +
                      (f" ({v.n(wkg, 2)} {v.tr('u_w_kg')})" if wkg else "")))
    if finite(p.get("speed_kmh")) is not None:
        items.append((v.tr("peak_speed"), f"{v.n(p['speed_kmh'], 1)} {v.tr('u_kmh')}"))
    rows = [[k for k, _ in items], [val for _, val in items]]
    w = CONTENT_W / len(items)
    return [P(v.tr("section_peak"), s.h2), grid_table(rows, [w] * len(items), zebra=False)]


def threshold_cells(v: View, row: dict) -> list:
    vo2 = finite(row.get("vo2_ml_min"))
    vo2max = finite(v.vo2max.get("vo2_ml_min"))
    pct = finite(row.get("vo2_pct_max"))
    if pct is None and vo2 is not None and vo2max:
        pct = 100 * vo2 / vo2max
    cells = [clock(row.get("time_s")), v.n(vo2), v.n(v.vo2_kg(vo2, row.get("vo2_ml_kg_min")), 1), v.n(pct),
             v.n(row.get("hr_bpm"))]
    kind = v.load_kind
    if kind == "power":
        cells.append(v.n(row.get("power_w")))
    elif kind == "speed":
        cells.append(v.n(row.get("speed_kmh"), 1))
    return cells


def threshold_head(v: View) -> list:
    head = [v.tr("col_time"), v.tr("col_vo2"), v.tr("col_vo2kg"), v.tr("col_pct"), v.tr("col_hr")]
    kind = v.load_kind
    if kind == "power":
        head.append(v.tr("col_power"))
    elif kind == "speed":
        head.append(v.tr("col_speed"))
    return head


def method_label(v: View, row: dict) -> str:
    if row.get("manual"):
        return v.tr("manual") + " ✎"
    m = row.get("method")
    if m in ("consensus", "combined"):
        conf = finite(row.get("confidence"))
        return v.method_name(m) + (f" ({v.n(conf * 100)} %)" if conf is not None else "")
    return v.method_name(m)


def thresholds_detail(v: View, s: Styles) -> list:
    head = [v.tr("col_threshold"), v.tr("col_method")] + threshold_head(v)
    rows, bold, extra = [head], [], []
    manual_seen = False
    for key in ("vt1", "vt2"):
        vt = v.vt[key]
        if not vt:
            rows.append([v.tr(key), v.tr("not_detected")] + [DASH] * (len(head) - 2))
            continue
        bold.append(len(rows))
        rows.append([v.tr(key), f"{v.tr('chosen')}: {method_label(v, vt)}"] + threshold_cells(v, vt))
        if vt.get("manual"):
            manual_seen = True
            extra.append(("TEXTCOLOR", (1, len(rows) - 1), (1, len(rows) - 1), ch.ORANGE))
        for m in dm.as_list(vt.get("methods")):
            if not isinstance(m, dict):
                continue
            if finite(m.get("time_s")) is None and finite(m.get("vo2_ml_min")) is None:
                rows.append(["", v.method_name(m.get("method")), v.tr("not_detected")] + [""] * (len(head) - 3))
                extra.append(("SPAN", (2, len(rows) - 1), (-1, len(rows) - 1)))
            else:
                rows.append(["", v.method_name(m.get("method"))] + threshold_cells(v, m))
    n = len(head)
    widths = [0.1 * CONTENT_W, 0.24 * CONTENT_W] + [(0.66 * CONTENT_W) / (n - 2)] * (n - 2)
    out = [P(v.tr("section_thresholds"), s.h2), grid_table(rows, widths, bold_rows=bold, extra=extra)]
    notes = [v.tr("thr_note"), f"{v.tr('vt1_long')}; {v.tr('vt2_long')}."]
    if manual_seen:
        notes.append("✎ " + v.tr("manual_note"))
    out.append(P(" ".join(notes), s.small))
    return out


def zones_table(v: View, s: Styles, model: str, *, athlete=False) -> Table | None:
    zones = [z for z in dm.as_list(v.zones.get(model)) if isinstance(z, dict)]
    if not zones:
        return None
    kind = v.load_kind
    head = [v.tr("col_zone"), v.tr("col_hr_range")]
    if kind == "power":
        head.append(v.tr("col_power_range"))
    elif kind == "speed":
        head.append(v.tr("col_speed_range"))
        if athlete:
            head.append(v.tr("col_pace_range"))
    if athlete and model == "five_zone":
        head.append(v.tr("col_purpose"))
    rows = [head]
    for i, z in enumerate(zones):
        row = [v.zone_name(model, i, z.get("name")), num_range(z.get("hr_bpm"), 0, v.lang)]
        if kind == "power":
            row.append(num_range(z.get("power_w"), 0, v.lang))
        elif kind == "speed":
            row.append(num_range(z.get("speed_kmh"), 1, v.lang))
            if athlete:
                sp = z.get("speed_kmh") if isinstance(z.get("speed_kmh"), (list, tuple)) else None
                row.append(f"{pace(sp[1])}–{pace(sp[0])}" if sp and len(sp) == 2 else DASH)
        if athlete and model == "five_zone":
            row.append(P(v.tr(f"z5_{i + 1}_purpose") if i < 5 else "", s.body))
        rows.append(row)
    palette = ZONE_COLORS if model == "five_zone" else ZONE3_COLORS
    extra = [("BACKGROUND", (0, i + 1), (0, i + 1), colors.HexColor(palette[i % len(palette)]))
             for i in range(len(zones))]
    if athlete:
        extra += [("FONT", (0, 1), (-1, -1), fonts.REGULAR, 9), ("FONT", (0, 1), (0, -1), fonts.BOLD, 9),
                  ("TOPPADDING", (0, 1), (-1, -1), 6), ("BOTTOMPADDING", (0, 1), (-1, -1), 6)]
    n = len(head)
    if athlete and model == "five_zone":
        first, last = 0.24 * CONTENT_W, 0.34 * CONTENT_W
        mid = (CONTENT_W - first - last) / (n - 2)
        widths = [first] + [mid] * (n - 2) + [last]
    else:
        first = 0.3 * CONTENT_W
        widths = [first] + [(CONTENT_W * (1.0 if athlete else 0.8) - first) / (n - 1)] * (n - 1)
    return grid_table(rows, widths, zebra=False, extra=extra, font_size=9 if athlete else 7.5)


def zones_block(v: View, s: Styles) -> list:
    out = [P(v.tr("section_zones"), s.h2)]
    three, five = zones_table(v, s, "three_zone"), zones_table(v, s, "five_zone")
    if not three and not five:
        return [KeepTogether(out + [P(v.tr("zones_none"), s.body)])]
    if three:
        out += [P(v.tr("zones_three"), s.h3), three]
    if five:
        out += [P(v.tr("zones_five"), s.h3), five]
    return [KeepTogether(out)]


# ------------------------------------------------------------------ charts


class Panels:
    """Smoothed sample series in minutes, shared by every panel."""

    NEEDED = ("vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "peto2_mmhg", "petco2_mmhg", "power_w",
              "speed_kmh")

    def __init__(self, v: View):
        self.v = v
        s = v.d.samples
        self.t = s.get("time_s") if s.get("time_s") is not None else np.empty(0)
        self.tm = self.t / 60.0
        self.sm = {}
        for key in self.NEEDED:
            col = s.get(key)
            if dm.has_values(col):
                self.sm[key] = col if key in ("power_w", "speed_kmh") else dm.moving_average(self.t, col)
        self.vt_time = {k: (finite(vt.get("time_s")) / 60.0 if vt and finite(vt.get("time_s")) is not None else None)
                        for k, vt in v.vt.items()}
        self.phases = [p for p in dm.as_list(v.protocol.get("phases")) if isinstance(p, dict)
                       and finite(p.get("start_s")) is not None and finite(p.get("end_s")) is not None]

    def has(self, *keys) -> bool:
        return all(k in self.sm for k in keys)

    def col(self, key):
        return self.sm.get(key)

    def line(self, key_or_values, color, label, axis="left", width=0.9, kind="line"):
        y = self.sm.get(key_or_values) if isinstance(key_or_values, str) else key_or_values
        if not dm.has_values(y):
            return ch.Series([], [], color, label)
        x, yy = dm.decimate(self.tm, y)
        return ch.Series(x, yy, color, label, axis=axis, width=width, kind=kind)

    def mark_time(self, chart: ch.Chart) -> ch.Chart:
        chart.vline(self.vt_time.get("vt1"), self.v.tr("vt1"), ch.VT1_COLOR)
        chart.vline(self.vt_time.get("vt2"), self.v.tr("vt2"), ch.VT2_COLOR)
        for p in self.phases:  # the test's phases behind the lines (the incremental part stays white)
            name = str(p.get("phase"))
            if name != "incremental":
                label = t(self.v.lang, f"ch_phase_{name}")
                chart.band(p["start_s"] / 60.0, p["end_s"] / 60.0, label if label != f"ch_phase_{name}" else "")
        return chart

    def chart(self, w, h, title_key, y_label, y2_label="") -> ch.Chart:
        tr = self.v.tr
        return ch.Chart(w, h, title=tr(title_key), x_label=tr("ax_time"), y_label=tr(y_label) if y_label else "",
                        y2_label=tr(y2_label) if y2_label else "", lang=self.v.lang, empty_text=tr("no_data"))

    def load_series(self):
        kind = self.v.load_kind
        if kind == "power" and "power_w" in self.sm:
            return self.line("power_w", ch.GREY, self.v.tr("lg_power"), axis="right", width=0.8), "ax_power"
        if kind == "speed" and "speed_kmh" in self.sm:
            return self.line("speed_kmh", ch.GREY, self.v.tr("lg_speed"), axis="right", width=0.8), "ax_speed"
        return None, ""

    def wasserman(self, w, h) -> list:
        """The panels this test has data for (a panel without its channels is left out, not drawn empty)."""
        tr = self.v.tr
        out = []
        vo2, vco2 = self.col("vo2_ml_min"), self.col("vco2_ml_min")
        # 1 VO2 and VCO2 with load
        load, load_axis = self.load_series()
        if vo2 is not None or vco2 is not None:
            c = self.chart(w, h, "ch_vo2_vco2", "ax_ml_min", load_axis)
            c.add(self.line("vo2_ml_min", ch.BLUE, tr("lg_vo2"))).add(self.line("vco2_ml_min", ch.RED,
                                                                                tr("lg_vco2")))
            if load is not None:
                load.dash = (2, 1.5)
                c.add(load)
            out.append(self.mark_time(c))
        # 2 HR and VO2 (oxygen pulse's view): only with heart rate
        if self.has("hr_bpm"):
            c = self.chart(w, h, "ch_hr_vo2", "ax_vo2" if vo2 is not None else "", "ax_hr")
            if vo2 is not None:
                c.add(self.line("vo2_ml_min", ch.BLUE, tr("lg_vo2")))
            c.add(self.line("hr_bpm", ch.RED, tr("lg_hr"), axis="right"))
            out.append(self.mark_time(c))
        # 3 ventilation
        if self.has("ve_l_min"):
            c = self.chart(w, h, "ch_ve", "ax_ve")
            c.add(self.line("ve_l_min", ch.TEAL, "VE"))
            out.append(self.mark_time(c))
        # 4 V-slope
        if vo2 is not None and vco2 is not None:
            c = ch.Chart(w, h, title=tr("ch_vslope"), x_label=tr("ax_vo2"), y_label=tr("ax_vco2"), lang=self.v.lang,
                         empty_text=tr("no_data"))
            x, y = dm.thin(vo2, vco2)
            c.add(ch.Series(x, y, ch.PURPLE, tr("lg_vco2"), kind="dots"))
            for key, color in (("vt1", ch.VT1_COLOR), ("vt2", ch.VT2_COLOR)):
                vt = self.v.vt[key]
                if vt:
                    c.vline(finite(vt.get("vo2_ml_min")), tr(key), color)
            out.append(c)
        # 5 ventilatory equivalents
        ve = self.col("ve_l_min")
        if ve is not None and (vo2 is not None or vco2 is not None):
            c = self.chart(w, h, "ch_eq", "ax_eq")
            if vo2 is not None:
                c.add(self.line(dm.ratio(ve, vo2, 1000.0), ch.BLUE, tr("lg_veo2")))
            if vco2 is not None:
                c.add(self.line(dm.ratio(ve, vco2, 1000.0), ch.RED, tr("lg_veco2")))
            out.append(self.mark_time(c))
        # 6 end-tidal pressures: each one the test recorded (PetO2 left axis, PetCO2 right)
        if self.has("peto2_mmhg") or self.has("petco2_mmhg"):
            both = self.has("peto2_mmhg") and self.has("petco2_mmhg")
            c = self.chart(w, h, "ch_pet", "ax_pet", "ax_pet" if both else "")
            c.add(self.line("peto2_mmhg", ch.BLUE, tr("lg_peto2")))
            c.add(self.line("petco2_mmhg", ch.RED, tr("lg_petco2"), axis="right" if both else "left"))
            out.append(self.mark_time(c))
        # 7 RER
        if vo2 is not None and vco2 is not None:
            c = self.chart(w, h, "ch_rer", "ax_rer")
            c.add(self.line(dm.ratio(vco2, vo2), ch.TEAL, tr("lg_rer")))
            c.hlines.append((1.0, ch.GREY))
            out.append(self.mark_time(c))
        return out

    def simple(self, w, h) -> ch.Chart:
        """Athlete template: VO2 (per kg when the mass is known) and heart rate over time, thresholds marked."""
        tr = self.v.tr
        mass = finite(self.v.mass)
        vo2 = self.col("vo2_ml_min")
        c = ch.Chart(w, h, title=tr("ch_simple"), x_label=tr("ax_time"),
                     y_label=f"VO2, {tr('u_ml_kg_min') if mass else tr('u_ml_min')}", y2_label=tr("ax_hr"),
                     lang=self.v.lang, empty_text=tr("no_data"), font_size=7.5)
        if vo2 is not None:
            y = vo2 / mass if mass else vo2
            c.add(self.line(y, ch.BLUE, tr("lg_vo2"), width=1.4))
        if self.has("hr_bpm"):
            c.add(self.line("hr_bpm", ch.RED, tr("lg_hr_right"), axis="right", width=1.2))
        else:
            c.y2_label = ""
            c.title = tr("ch_simple_no_hr")
        return self.mark_time(c)


def charts_grid(drawings: list, cols: int = 2) -> Table:
    rows = [drawings[i:i + cols] for i in range(0, len(drawings), cols)]
    if rows and len(rows[-1]) < cols:
        rows[-1] += [""] * (cols - len(rows[-1]))
    table = Table(rows, colWidths=[CONTENT_W / cols] * cols, hAlign="LEFT")
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), fonts.REGULAR, 8), ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                               ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def fatmax_block(v: View, s: Styles) -> list:
    f = v.fatmax
    if not f:
        return []
    out = [P(v.tr("section_fatmax"), s.h2)]
    stages = [st for st in dm.as_list(f.get("stages")) if isinstance(st, dict)]
    if not f.get("available") or not stages:
        reason = str(f.get("reason") or "")
        reason = v.tr("fatmax_reason_ramp" if "'ramp'" in reason else "fatmax_reason_steps" if "step protocol" in
                      reason else "fatmax_reason_other")
        return [KeepTogether(out + [P(v.tr("fatmax_unavailable", reason=reason), s.body)])]
    unit = v.tr("u_w") if v.load_kind == "power" else v.tr("u_kmh") if v.load_kind == "speed" else ""
    d_load = 0 if v.load_kind == "power" else 1
    fm = f.get("fatmax") if isinstance(f.get("fatmax"), dict) else {}
    summary = (f"<b>{v.tr('mfo')}:</b> {v.n(f.get('mfo_g_min'), 2)} {v.tr('u_g_min')}; "
               f"<b>{v.tr('fatmax_at')}:</b> {v.n(fm.get('load'), d_load)} {unit}, "
               f"{v.n(fm.get('hr_bpm'))} {v.tr('u_bpm')}, {v.n(fm.get('vo2_pct_max'))} % VO2max")
    loads = [finite(st.get("load")) for st in stages]
    c = ch.Chart(CONTENT_W * 0.5 - 6, 165, title=v.tr("ch_fatmax"), x_label=f"{v.tr('col_load')}, {unit}",
                 y_label=f"{v.tr('fat')}, {v.tr('u_g_min')}", y2_label=f"{v.tr('cho')}, {v.tr('u_g_min')}",
                 lang=v.lang, empty_text=v.tr("no_data"))
    pts = [(x, finite(st.get("fat_g_min"))) for x, st in zip(loads, stages)]
    pts = [(a, b) for a, b in pts if a is not None and b is not None]
    c.add(ch.Series([a for a, _ in pts], [b for _, b in pts], ch.GREEN, v.tr("lg_fat"), kind="line+dots",
                    width=1.2))
    pts = [(x, finite(st.get("cho_g_min"))) for x, st in zip(loads, stages)]
    pts = [(a, b) for a, b in pts if a is not None and b is not None]
    c.add(ch.Series([a for a, _ in pts], [b for _, b in pts], ch.ORANGE, v.tr("lg_cho"), axis="right",
                    kind="line+dots", width=1.0))
    c.vline(finite(fm.get("load")), "FATmax", ch.GREEN)
    rows = [[v.tr("col_load"), v.tr("col_hr"), v.tr("col_pct"), v.tr("col_rer"), v.tr("col_fat"), v.tr("col_cho"),
             v.tr("col_valid")]]
    for st in stages:
        rows.append([v.n(st.get("load"), d_load), v.n(st.get("hr_bpm")), v.n(st.get("vo2_pct_max")),
                     v.n(st.get("rer"), 2), v.n(st.get("fat_g_min"), 2), v.n(st.get("cho_g_min"), 2),
                     v.tr("yes") if st.get("valid") else v.tr("no")])
    table = grid_table(rows, [CONTENT_W * 0.5 * f for f in (0.13, 0.11, 0.14, 0.11, 0.15, 0.18, 0.18)], font_size=7)
    layout = Table([[c.drawing(), table]], colWidths=[CONTENT_W * 0.5, CONTENT_W * 0.5])
    layout.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), fonts.REGULAR, 8), ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    method = f" ({fatmax_method(v, f)})" if f.get("method") else ""
    return [KeepTogether(out + [P(summary + method, s.body), Spacer(1, 4), layout])]


def fatmax_method(v: View, f: dict) -> str:
    return v.tr("fatmax_method_frayn") if str(f.get("method") or "").startswith("Frayn") else E(f.get("method"))


def monotone_curve(points: list[tuple[float, float]], n: int = 80) -> tuple[list, list]:
    """A non-decreasing curve through the measured (intensity, lactate) points, for the eye: the points made
    monotone by pooling adjacent violators (an isotonic fit, so it starts at the pooled baseline and never dips
    below it), joined by a monotone cubic (Fritsch–Carlson), which cannot overshoot between points."""
    pts = sorted((float(x), float(y)) for x, y in points)
    xs = []
    ys = []
    for x, y in pts:  # equal intensities: their mean
        if xs and x == xs[-1]:
            ys[-1].append(y)
        else:
            xs.append(x)
            ys.append([y])
    blocks = [[sum(y) / len(y), len(y), 1] for y in ys]  # mean, weight, points in the block
    merged: list = []
    for b in blocks:
        merged.append(b)
        while len(merged) > 1 and merged[-2][0] > merged[-1][0]:
            (m1, w1, k1), (m2, w2, k2) = merged[-2], merged[-1]
            merged[-2:] = [[(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, k1 + k2]]
    iso = [m for m, _, k in merged for _ in range(k)]
    if len(xs) < 2:
        return xs, iso
    h = [xs[i + 1] - xs[i] for i in range(len(xs) - 1)]
    d = [(iso[i + 1] - iso[i]) / h[i] for i in range(len(h))]
    m = [d[0]] + [0.0 if d[i - 1] * d[i] <= 0 else (d[i - 1] + d[i]) / 2 for i in range(1, len(d))] + [d[-1]]
    for i, di in enumerate(d):
        if di == 0:
            m[i] = m[i + 1] = 0.0
        else:
            a, b = m[i] / di, m[i + 1] / di
            r = a * a + b * b
            if r > 9:
                tau = 3 / r ** 0.5
                m[i], m[i + 1] = tau * a * di, tau * b * di
    out_x, out_y = [], []
    lo, hi = xs[0], xs[-1]
    for j in range(n + 1):
        x = lo + (hi - lo) * j / n
        i = min(max(0, next((k for k in range(len(h)) if x <= xs[k + 1]), len(h) - 1)), len(h) - 1)
        u = (x - xs[i]) / h[i]
        h00, h10, h01, h11 = 2 * u ** 3 - 3 * u ** 2 + 1, u ** 3 - 2 * u ** 2 + u, -2 * u ** 3 + 3 * u ** 2, u ** 3 - u ** 2
        y = h00 * iso[i] + h10 * h[i] * m[i] + h01 * iso[i + 1] + h11 * h[i] * m[i + 1]
        out_x.append(x)
        out_y.append(max(y, iso[0]))
    return out_x, out_y


LT1_METHODS = ("LTP1", "Bsln + 0.5", "Log-log", "OBLA 2.0")
LT2_METHODS = ("LTP2", "ModDmax", "OBLA 4.0", "Dmax")


class Lactate:
    """The lactate step test read for printing: measured steps, thresholds by method, the chosen LT1/LT2 (the first
    found of LT1_METHODS / LT2_METHODS: the two lactate turning points, then the usual fallbacks) and the zones
    they bound."""

    def __init__(self, v: View):
        self.v = v
        res = v.d.lactate_result if isinstance(v.d.lactate_result, dict) else {}
        self.res = res
        steps = [st for st in (v.d.lactate_steps or []) if isinstance(st, dict)]
        self.points = [(finite(st.get("intensity")), finite(st.get("lactate")), finite(st.get("heart_rate")),
                        finite(st.get("length") if st.get("length") is not None else st.get("length_s")))
                       for st in steps]
        self.points = [p for p in self.points if p[0] is not None and p[1] is not None]
        self.thresholds = [th for th in dm.as_list(res.get("thresholds")) if isinstance(th, dict)]
        found = {str(th.get("method")): th for th in self.thresholds if finite(th.get("intensity")) is not None}
        self.lt1 = next((found[m] for m in LT1_METHODS if m in found), None)
        self.lt2 = next((found[m] for m in LT2_METHODS if m in found), None)
        if self.lt1 and self.lt2 and finite(self.lt1["intensity"]) >= finite(self.lt2["intensity"]):
            self.lt2 = None
        speed = res.get("sport") == "running" or (v.load_kind == "speed")
        self.unit = v.tr("u_kmh") if speed else v.tr("u_w")
        self.decimals = 1 if speed else 0

    def intensity(self, x) -> str:
        return self.v.n(x, self.decimals)

    def chart(self, w, h) -> ch.Chart:
        v = self.v
        c = ch.Chart(w, h, title=v.tr("ch_lactate"), x_label=v.tr("col_intensity_unit", unit=self.unit),
                     y_label=v.tr("ax_lactate"), y2_label=v.tr("ax_hr") if any(p[2] for p in self.points) else "",
                     lang=v.lang, empty_text=v.tr("no_data"))
        pts = self.points
        if pts:
            cx, cy = monotone_curve([(p[0], p[1]) for p in pts])
            c.add(ch.Series(cx, cy, ch.BLUE, "", width=1.2))
            c.add(ch.Series([p[0] for p in pts], [p[1] for p in pts], ch.BLUE, v.tr("lg_lactate"), kind="dots",
                            width=1.0, dot=2.2))
            hr = [p for p in pts if p[2] is not None]
            if hr:
                c.add(ch.Series([p[0] for p in hr], [p[2] for p in hr], ch.RED, v.tr("lg_hr"), axis="right",
                                kind="line+dots", width=0.8, dash=(2, 1.5)))
            lo = min(min(p[1] for p in pts), min(cy) if cy else 0)
            c.y_range = (min(0.0, lo), max(max(p[1] for p in pts), max(cy) if cy else 0))
        for th, key, color in ((self.lt1, "lt1", ch.VT1_COLOR), (self.lt2, "lt2", ch.VT2_COLOR)):
            if th:
                c.vline(finite(th.get("intensity")), v.tr(key), color)
        return c

    def steps_table(self, width) -> Table | None:
        v = self.v
        if not self.points:
            return None
        rows = [[v.tr("lactate_steps"), v.tr("col_intensity_unit", unit=self.unit), v.tr("col_lactate"),
                 v.tr("col_hr")]]
        for i, (x, la, hr, _) in enumerate(self.points):
            rows.append([str(i + 1), self.intensity(x), v.n(la, 1), v.n(hr)])
        return grid_table(rows, [width * f for f in (0.16, 0.32, 0.28, 0.24)], font_size=7.5)

    def thresholds_table(self, width) -> Table | None:
        v = self.v
        if not self.thresholds:
            return None
        rows = [[v.tr("col_method"), v.tr("col_intensity_unit", unit=self.unit), v.tr("col_lactate"),
                 v.tr("hr_at_threshold"), v.tr("lactate_chosen_col")]]
        bold = []
        for th in self.thresholds:
            chosen = "lt1" if th is self.lt1 else "lt2" if th is self.lt2 else ""
            if chosen:
                bold.append(len(rows))
            if finite(th.get("intensity")) is None:
                rows.append([E(th.get("method")), v.tr("not_detected"), "", "", ""])
                continue
            rows.append([E(th.get("method")), self.intensity(th.get("intensity")), v.n(th.get("lactate"), 1),
                         v.n(th.get("heart_rate")), v.tr(chosen) if chosen else ""])
        return grid_table(rows, [width * f for f in (0.28, 0.22, 0.2, 0.18, 0.12)], font_size=7, bold_rows=bold,
                          extra=[("TOPPADDING", (0, 1), (-1, -1), 1.1), ("BOTTOMPADDING", (0, 1), (-1, -1), 1.1)])

    def zones(self) -> list[dict]:
        """Three zones bounded by LT1 and LT2 (intensity and heart rate at each), from the first to the last step."""
        if not (self.lt1 and self.lt2 and self.points):
            return []
        lo = min(p[0] for p in self.points)
        hi = max(p[0] for p in self.points)
        hrs = [p[2] for p in self.points if p[2] is not None]
        h1, h2 = finite(self.lt1.get("heart_rate")), finite(self.lt2.get("heart_rate"))
        i1, i2 = finite(self.lt1["intensity"]), finite(self.lt2["intensity"])
        hr_lo, hr_hi = (min(hrs), max(hrs)) if hrs else (None, None)
        return [{"name": "lz_1", "intensity": (lo, i1), "hr": (hr_lo, h1)},
                {"name": "lz_2", "intensity": (i1, i2), "hr": (h1, h2)},
                {"name": "lz_3", "intensity": (i2, hi), "hr": (h2, hr_hi)}]

    def zones_table(self, width, athlete=False) -> Table | None:
        v = self.v
        zones = self.zones()
        if not zones:
            return None
        rows = [[v.tr("col_zone"), v.tr("col_intensity_unit", unit=self.unit), v.tr("col_hr_range")]]
        for z in zones:
            rows.append([v.tr(z["name"]), num_range(z["intensity"], self.decimals, v.lang),
                         num_range(z["hr"], 0, v.lang) if any(x is not None for x in z["hr"]) else DASH])
        extra = [("BACKGROUND", (0, i + 1), (0, i + 1), colors.HexColor(ZONE3_COLORS[i])) for i in range(3)]
        size = 9 if athlete else 7.5
        return grid_table(rows, [width * f for f in (0.44, 0.28, 0.28)], zebra=False, extra=extra, font_size=size)

    def chosen_text(self) -> str:
        v = self.v
        if not (self.lt1 or self.lt2):
            return ""
        m1 = E(self.lt1.get("method")) if self.lt1 else v.tr("not_detected")
        m2 = E(self.lt2.get("method")) if self.lt2 else v.tr("not_detected")
        return v.tr("lactate_chosen", m1=m1, m2=m2)


def lactate_block(v: View, s: Styles, heading: bool = True) -> list:
    """The lactate part of a report: curve and steps side by side, thresholds by method, zones."""
    la = Lactate(v)
    if not la.points and not la.thresholds:
        return []
    half = CONTENT_W * 0.5
    out = [P(v.tr("section_lactate"), s.h2)] if heading else [Spacer(1, 6)]
    steps = la.steps_table(half - 8)
    layout = Table([[la.chart(half - 6, 200), steps or ""]], colWidths=[half, half])
    layout.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    out.append(layout)
    out.append(P(v.tr("lactate_fit_monotone"), s.small))
    block = [KeepTogether(out)]
    thresholds = la.thresholds_table(CONTENT_W * 0.7)
    if thresholds is not None:
        part = [P(v.tr("section_lactate_thresholds"), s.h3), thresholds]
        if la.chosen_text():
            part.append(P(la.chosen_text(), s.small))
        block.append(KeepTogether(part))
    zones = la.zones_table(CONTENT_W * 0.8)
    if zones is not None:
        block.append(KeepTogether([P(v.tr("lactate_zones"), s.h3), zones]))
    return block


def lactate_story(v: View, s: Styles, *, athlete: bool) -> list:
    """A lactate-only step test: its own layout (no gas-exchange panels)."""
    la = Lactate(v)
    story = header(v, s, "title_lactate")
    story.append(Spacer(1, 4))
    story.append(details(v, s))
    if athlete:
        rows = []
        for th, key in ((la.lt1, "lt1"), (la.lt2, "lt2")):
            if th:
                hr = finite(th.get("heart_rate"))
                text = f"{la.intensity(th.get('intensity'))} {la.unit}" + (
                    f" · {v.n(hr)} {v.tr('u_bpm')}" if hr is not None else "")
            else:
                text = v.tr("not_detected")
            rows.append([P(v.tr(key), s.body), P(text, s.key_value)])
        story.append(P(v.tr("key_numbers"), s.h2))
        story.append(grid_table(rows, [0.38 * CONTENT_W, 0.62 * CONTENT_W], header_rows=0, zebra=False))
        story.append(Spacer(1, 6))
        story.append(la.chart(CONTENT_W, 250))
        zones = la.zones_table(CONTENT_W, athlete=True)
        story.append(P(v.tr("your_zones"), s.h2))
        story.append(zones if zones is not None else P(v.tr("zones_none"), s.body))
        return story
    story += lactate_block(v, s, heading=False)  # the title says it already
    story += comparison_block(v, s)
    story += methods_block(v, s)
    return story


def comparison_rows(v: View) -> list:
    prev = v.d.previous
    if prev is None:
        return []
    cur = dm.summarize(v.r)
    cur["vo2max_ml_kg_min"] = v.vo2max_kg
    cur["body_mass_kg"] = v.mass
    metrics = [("m_vo2max_kg", "vo2max_ml_kg_min", 1, 1.0), ("m_vo2max_l", "vo2max_ml_min", 2, 0.001),
               ("m_body_mass", "body_mass_kg", 1, 1.0), ("m_hr_max", "hr_max_bpm", 0, 1.0),
               ("m_vt1_hr", "vt1_hr_bpm", 0, 1.0), ("m_vt2_hr", "vt2_hr_bpm", 0, 1.0)]
    kind = v.load_kind
    if kind == "power":
        load = v.tr("load_power")
        metrics += [("m_vt1_load", "vt1_power_w", 0, 1.0), ("m_vt2_load", "vt2_power_w", 0, 1.0),
                    ("m_peak_load", "peak_power_w", 0, 1.0)]
    elif kind == "speed":
        load = v.tr("load_speed")
        metrics += [("m_vt1_load", "vt1_speed_kmh", 1, 1.0), ("m_vt2_load", "vt2_speed_kmh", 1, 1.0),
                    ("m_peak_load", "peak_speed_kmh", 1, 1.0)]
    else:
        load = ""
    rows = []
    for label, key, d, scale in metrics:
        a, b = finite(getattr(prev, key, None)), finite(cur.get(key))
        if a is None and b is None:
            continue
        change = DASH
        if a is not None and b is not None:
            diff = (b - a) * scale
            change = v.n(diff, d, signed=True) + (f" ({v.n(100 * (b - a) / a, 1, signed=True)} %)" if a else "")
        rows.append((v.tr(label, load=load), None if a is None else a * scale, None if b is None else b * scale, d,
                     change, key))
    return rows


def comparison_block(v: View, s: Styles) -> list:
    rows = comparison_rows(v)
    if not rows:
        return []
    head = [v.tr("col_metric"), v.tr("col_previous", date=fmt_date(v.d.previous.date, v.lang)),
            v.tr("col_current", date=fmt_date(v.d.test.date, v.lang)), v.tr("col_change")]
    body = [[label, v.n(a, d), v.n(b, d), change] for label, a, b, d, change, _ in rows]
    w = CONTENT_W
    part = [P(v.tr("section_comparison"), s.h2), grid_table([head] + body, [0.34 * w, 0.2 * w, 0.2 * w, 0.26 * w])]
    note = meaningful_text(v)
    if note:
        part.append(P(note, s.small))
    return [KeepTogether(part)]


def meaningful_text(v: View) -> str:
    """Whether the VO2max change since the previous test exceeds the measurement noise (measurements' /progress)."""
    prev = v.d.previous
    if prev is None or prev.meaningful is None:
        return ""
    pct = finite(prev.meaningful_change_pct)
    said = v.tr("meaningful_yes") if prev.meaningful else v.tr("meaningful_no", pct=v.n(pct if pct else 5))
    change = finite(prev.change_pct)
    return f"VO2max: {v.n(change, 1, signed=True)} % — {said}" if change is not None else f"VO2max: {said}"


def averaging_text(v: View) -> str:
    a = v.d.strategy or {}
    m = a.get("method")
    if m == "time":
        text = v.tr("avg_time", s=v.n(a.get("seconds")))
    elif m == "breath":
        text = v.tr("avg_breath", n=v.n(a.get("breaths")))
    elif m == "bin":
        text = v.tr("avg_bin", s=v.n(a.get("seconds")))
    elif m == "butterworth":
        text = v.tr("avg_butterworth", c=v.n(a.get("cutoff"), 3), o=v.n(a.get("order")),
                    zl=v.tr("avg_zero_lag") if a.get("zero_lag") else "")
    else:
        return DASH
    return text + "; " + outliers_text(v, a)


def outliers_text(v: View, a: dict) -> str:
    """What the cleaning step did, from the result's `averaging.outliers` (method, applied); `outlier_sd` alone
    for results of older engines."""
    o = a.get("outliers") if isinstance(a.get("outliers"), dict) else None
    if o is None:
        sd = finite(a.get("outlier_sd"))
        return v.tr("outliers", sd=v.n(sd, 1)) if sd else v.tr("outliers_off")
    method = o.get("method")
    if method in (None, "off"):
        return v.tr("outliers_off")
    if not o.get("applied"):
        return v.tr("outliers_not_applied")
    if method == "lamarra":
        return v.tr("outliers", sd=v.n(finite(o.get("sd")) or finite(a.get("outlier_sd")), 1))
    level = finite(o.get("level"))
    return v.tr("outliers_band", level=v.n(level * 100 if level is not None and level < 1 else level))


def flag_text(v: View, flag: dict) -> str:
    """The engine's quality messages are English; the common ones are said in the report's language."""
    code = str(flag.get("code") or "")
    if code.startswith("missing_channel:"):
        channel = code.split(":", 1)[1]
        if channel == "load":
            return v.tr("flag_no_load")
        name = t(v.lang, f"channel_{channel}")
        return v.tr("flag_missing_channel", channel=name if name != f"channel_{channel}" else v.tr("channel_other"))
    key = f"flag_{code.split(':', 1)[0]}"
    text = t(v.lang, key)
    if text != key:
        return text
    # a message the catalogue does not know yet: English reports print the engine's words, others say where to look
    return E(flag.get("message")) if v.lang == "en" and flag.get("message") else v.tr("flag_generic")


def methods_block(v: View, s: Styles) -> list:
    out = [P(v.tr("section_methods"), s.h2)]
    lines = [(v.tr("averaging"), averaging_text(v))] if v.has_cpet else []
    for key in ("vt1", "vt2"):
        vt = v.vt[key]
        if vt:
            names = [str(m.get("method")) for m in dm.as_list(vt.get("methods")) if isinstance(m, dict)]
            described = []
            for name in names:
                label = t(v.lang, f"method_{name}")
                described.append(E(name) if label == f"method_{name}" else f"{E(name)} — {E(label)}")
            lines.append((v.tr(f"{key}_methods"), "; ".join(described) or DASH))
    if v.has_cpet:
        combined = any((v.vt[k] or {}).get("method") == "combined" for k in ("vt1", "vt2"))
        lines.append((v.tr("threshold_choice"),
                      v.tr("threshold_choice_combined" if combined else "threshold_choice_text")))
    if v.vo2max.get("norm_source"):
        lines.append((v.tr("norm_source"), v.norm_text()))
    if v.fatmax and v.fatmax.get("method"):
        lines.append(("FATmax", fatmax_method(v, v.fatmax)))
    if v.has_lactate:
        lines.append((v.tr("lactate"), v.tr("lactate_conventions")))
    for key, value in (v.d.methods or {}).items():
        label = t(v.lang, f"methods_{key}")
        if label == f"methods_{key}":
            continue  # only what the catalogue can name is printed: no raw identifiers in a report
        lines.append((label, E(value if not isinstance(value, (list, tuple)) else ", ".join(map(str, value)))))
    q = v.quality
    if q.get("n_breaths") is not None:
        lines.append(("", v.tr("breaths", n=q.get("n_breaths", 0), o=q.get("outliers_removed", 0),
                                 e=q.get("excluded_breaths", 0))))
    engine = v.r.get("engine_version") or (v.d.lactate_result or {}).get("engine_version")
    if engine:
        lines.append((v.tr("engine"), E(engine)))
    rows = [[P(f"<b>{k}</b>", s.cell), P(val, s.cell)] for k, val in lines]
    if rows:  # the heading never stays alone at the foot of a page
        out = [KeepTogether([out[0], grid_table(rows, [0.2 * CONTENT_W, 0.8 * CONTENT_W], header_rows=0,
                                                zebra=False, extra=[("VALIGN", (0, 0), (-1, -1), "TOP")])])]
    if v.has_cpet:
        out.append(P(v.tr("chart_note", s=v.n(dm.SMOOTH_SECONDS), n=dm.MAX_POINTS), s.small))
    flags = [f for f in dm.as_list(q.get("flags")) if isinstance(f, dict)]
    if flags:
        out.append(P(v.tr("section_quality"), s.h3))
        for f in flags:
            sev = str(f.get("severity") or "info")
            word = t(v.lang, f"sev_{sev}")
            word = word if word != f"sev_{sev}" else v.tr("sev_info")
            out.append(P(f"• <b>{word}:</b> {flag_text(v, f)}", s.small))
    return out


# ------------------------------------------------------------------ page furniture


HEADER_H = 12 * mm


def canvas_maker(footer_left: str, lang: str, brand: dm.Branding | None = None, accent=None):
    """A canvas that knows the page count when it writes the footers ('page 2 of 4'), and writes the lab's header
    (logo, name, address and contact, in the tenant's accent colour) on every page."""
    brand = brand or dm.Branding()
    accent = accent if accent is not None else ACCENT
    logo = None
    if brand.logo_png:
        from reportlab.lib.utils import ImageReader

        try:
            logo = ImageReader(io.BytesIO(brand.logo_png))
        except Exception:  # a stored logo the image reader cannot read: the header goes without it
            logo = None
    name = brand.lab_name or t(lang, "brand")
    contact = " · ".join(x for x in (brand.lab_address, brand.lab_contact) if x)

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _header(self):
            self.saveState()
            top = PAGE_H - 8 * mm
            x = MARGIN
            if logo is not None:
                iw, ih = logo.getSize()
                h = HEADER_H - 2 * mm
                w = min(45 * mm, h * iw / ih if ih else h)
                self.drawImage(logo, x, top - h, width=w, height=h, mask="auto", preserveAspectRatio=True,
                               anchor="sw")
                x += w + 3 * mm
            self.setFillColor(accent)
            self.setFont(fonts.BOLD, 9)
            self.drawString(x, top - 3.5 * mm, name)
            if contact:
                self.setFont(fonts.REGULAR, 6.5)
                self.setFillColor(ch.MUTED)
                self.drawString(x, top - 7.5 * mm, contact)
            self.setStrokeColor(accent)
            self.setLineWidth(0.8)
            self.line(MARGIN, top - HEADER_H + 1 * mm, PAGE_W - MARGIN, top - HEADER_H + 1 * mm)
            self.restoreState()

        def _footer(self, total):
            self._header()
            self.saveState()
            self.setStrokeColor(LINE)
            self.setLineWidth(0.5)
            self.line(MARGIN, 11 * mm, PAGE_W - MARGIN, 11 * mm)
            self.setFont(fonts.REGULAR, 6.5)
            self.setFillColor(ch.MUTED)
            self.drawString(MARGIN, 7.5 * mm, footer_left)
            self.drawRightString(PAGE_W - MARGIN, 7.5 * mm, t(lang, "page", n=self._pageNumber, m=total))
            self.restoreState()

    return NumberedCanvas


def story_of(data: dm.ReportData, lang: str, template: str) -> tuple[View, list]:
    v = View(data, lang)
    s = styles(v.accent if v.accent is not ACCENT else None)
    if not v.has_cpet and v.has_lactate:
        story = lactate_story(v, s, athlete=template == "athlete")
    else:
        story = full_story(v, s) if template == "full" else athlete_story(v, s)
    story += conclusion_block(v, s)
    return v, story


def title_key(v: View, template: str) -> str:
    if not v.has_cpet and v.has_lactate:
        return "title_lactate"
    return "title_full" if template == "full" else "title_athlete"


def build(data: dm.ReportData, lang: str, template: str) -> bytes:
    v, story = story_of(data, lang, template)
    buf = io.BytesIO()
    generated = data.generated_at or dt.datetime.now(dt.timezone.utc)
    engine = data.result.get("engine_version")
    footer = " · ".join(x for x in (data.athlete.name or "", fmt_date(data.test.date, lang),
                                    t(lang, "generated", date=fmt_date(generated, lang)),
                                    t(lang, "engine_footer", v=engine) if engine else "") if x)
    title = f"{t(lang, title_key(v, template))} — {data.athlete.name}"
    author = v.brand.lab_name or t(lang, "brand")
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=8 * mm + HEADER_H,
                            bottomMargin=16 * mm, title=title, author=author, subject=title,
                            creator="VO2max Report", lang=lang, initialFontName=fonts.REGULAR,
                            initialFontSize=8.5)
    doc.build(story, canvasmaker=canvas_maker(footer, lang, v.brand, v.accent))
    return buf.getvalue()


def conclusion_block(v: View, s: Styles) -> list:
    """The physiologist's own words, as written (paragraphs kept), in a section of their own."""
    text = (v.d.conclusion or "").strip()
    if not text:
        return []
    paragraphs = [P(escape(part).replace("\n", "<br/>"), s.body) for part in re.split(r"\n\s*\n", text)]
    return [CondPageBreak(60), P(v.tr("section_conclusion"), s.h2), *paragraphs]


def full_story(v: View, s: Styles) -> list:
    story = header(v, s, "title_full")
    story.append(Spacer(1, 4))
    story.append(details(v, s))
    story += vo2max_block(v, s)
    story += peak_block(v, s)
    story += thresholds_detail(v, s)
    # the Wasserman panels that have data, two a row; rows flow on from page 1 (a table splits between rows)
    panels = Panels(v)
    drawn = panels.wasserman(CONTENT_W / 2 - 6, 150)
    if drawn:
        # the heading stays with the first row of panels; the other rows follow (page 1 is filled, not cut short)
        story.append(KeepTogether([P(v.tr("charts"), s.h2), charts_grid(drawn[:2])]))
        if drawn[2:]:
            story.append(charts_grid(drawn[2:]))
        note = v.tr("chart_note", s=v.n(dm.SMOOTH_SECONDS), n=dm.MAX_POINTS)
        if panels.phases:
            note += " " + v.tr("phases_note")
        story.append(P(note, s.small))
    story += zones_block(v, s)
    story += fatmax_block(v, s)
    story += lactate_block(v, s)
    story += comparison_block(v, s)
    story.append(CondPageBreak(120))
    story += methods_block(v, s)
    return story


def key_numbers(v: View, s: Styles) -> Table:
    def thr(key):
        vt = v.vt[key]
        if not vt:
            return v.tr("not_detected")
        bits = [f"{v.n(vt.get('hr_bpm'))} {v.tr('u_bpm')}"] if finite(vt.get("hr_bpm")) is not None else []
        load = v.load_text(vt)
        if load != DASH:
            bits.append(load)
            if v.load_kind == "speed":
                bits.append(f"{pace(vt.get('speed_kmh'))} {v.tr('u_pace')}")
        return " · ".join(bits) or DASH

    rows = [[P(v.tr("aerobic_threshold"), s.body), P(thr("vt1"), s.key_value)],
            [P(v.tr("anaerobic_threshold"), s.body), P(thr("vt2"), s.key_value)],
            [P(v.tr("max_hr"), s.body), P(f"{v.n(v.peak.get('hr_bpm'))} {v.tr('u_bpm')}" if v.has_hr
                                          else v.tr("no_hr_recorded"), s.key_value)]]
    peak_load = v.load_text(v.peak)
    if peak_load != DASH:
        rows.append([P(v.tr("peak_load"), s.body), P(peak_load, s.key_value)])
    return grid_table(rows, [0.38 * CONTENT_W, 0.62 * CONTENT_W], header_rows=0,
                      extra=[("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                             ("LINEBELOW", (0, 0), (-1, -2), 0.4, LINE)], zebra=False)


def athlete_percentile_text(v: View) -> str:
    p = finite(v.vo2max.get("percentile"))
    band = v.vo2max.get("percentile_band")
    group = v.sex_group()
    if p is not None:
        return v.tr("your_percentile_p", p=v.n(p), group=group)
    if isinstance(band, str) and band:
        if band.startswith(">"):
            return v.tr("your_percentile_gt90", group=group)
        if band.startswith("<"):
            return v.tr("your_percentile_lt10", group=group)
        if "-" in band:
            a, b = band.split("-", 1)
            return v.tr("your_percentile_band", a=a, b=b, group=group)
    return ""


def athlete_story(v: View, s: Styles) -> list:
    a = v.d.athlete
    story = header(v, s, "title_athlete")
    who = " · ".join(x for x in (f"<b>{E(a.name)}</b>", fmt_date(v.d.test.date, v.lang), E(a.sport) if a.sport
                                 else "", v.modality_text()) if x and x != DASH)
    story.append(P(who, s.body))
    story.append(Spacer(1, 8))
    label = v.tr("your_vo2max")
    left = [P(label, s.big_unit), P(v.n(v.vo2max_kg, 1), ParagraphStyle("huge", parent=s.big, fontSize=54,
                                                                         leading=60)),
            P(v.tr("u_ml_kg_min"), s.big_unit)]
    right = []
    ptext = athlete_percentile_text(v)
    if ptext:
        right.append(P(f"<b>{ptext}</b>", ParagraphStyle("pt", parent=s.body, fontSize=11, leading=14)))
        right.append(Spacer(1, 6))
        right.append(ch.percentile_bar(0.55 * CONTENT_W - 16, 40, finite(v.vo2max.get("percentile")),
                                       v.vo2max.get("percentile_band"), v.lang))
        right.append(Spacer(1, 6))
    right.append(P(v.tr("vo2max_explained"), s.body))
    box = Table([[left, right]], colWidths=[0.45 * CONTENT_W, 0.55 * CONTENT_W])
    box.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), fonts.REGULAR, 8), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BACKGROUND", (0, 0), (0, 0), LIGHT),
                             ("BOX", (0, 0), (-1, -1), 0.6, LINE), ("LEFTPADDING", (1, 0), (1, 0), 12),
                             ("TOPPADDING", (0, 0), (-1, -1), 10), ("BOTTOMPADDING", (0, 0), (-1, -1), 10)]))
    story.append(box)
    story.append(P(v.tr("key_numbers"), s.h2))
    story.append(key_numbers(v, s))
    story.append(P(v.tr("thresholds_explained"), s.small))
    story.append(Spacer(1, 8))
    story.append(Panels(v).simple(CONTENT_W, 230).drawing())
    story.append(PageBreak())
    story.append(P(v.tr("your_zones"), s.h1))
    story.append(Spacer(1, 4))
    zones = zones_table(v, s, "five_zone", athlete=True) or zones_table(v, s, "three_zone", athlete=True)
    story.append(zones if zones else P(v.tr("zones_none"), s.body))
    story.append(Spacer(1, 4))
    story.append(P(v.tr("zones_explained" if v.has_hr else "zones_explained_no_hr"), s.body))
    rows = comparison_rows(v)
    if rows:
        story.append(P(v.tr("since_last", date=fmt_date(v.d.previous.date, v.lang)), s.h2))
        body = []
        for label, prev, cur, d, change, key in rows:
            if key not in ("vo2max_ml_kg_min", "vt1_hr_bpm", "vt2_hr_bpm", "vt1_power_w", "vt2_power_w",
                           "vt1_speed_kmh", "vt2_speed_kmh", "peak_power_w", "peak_speed_kmh"):
                continue
            body.append([label, v.n(prev, d), "→", v.n(cur, d), change])
        if body:
            story.append(grid_table(body, [0.36 * CONTENT_W, 0.14 * CONTENT_W, 0.05 * CONTENT_W, 0.14 * CONTENT_W,
                                           0.31 * CONTENT_W], header_rows=0,
                                    extra=[("FONT", (3, 0), (3, -1), fonts.BOLD, 9),
                                           ("FONT", (0, 0), (2, -1), fonts.REGULAR, 9),
                                           ("FONT", (4, 0), (4, -1), fonts.REGULAR, 9)]))
    if v.has_lactate:  # a test with lactate steps as well: the lactate thresholds and zones too
        la = Lactate(v)
        part = [P(v.tr("section_lactate"), s.h2)]
        for th, key in ((la.lt1, "lt1"), (la.lt2, "lt2")):
            if th:
                hr = finite(th.get("heart_rate"))
                part.append(P(f"<b>{v.tr(key)}:</b> {la.intensity(th.get('intensity'))} {la.unit}" +
                              (f" · {v.n(hr)} {v.tr('u_bpm')}" if hr is not None else ""), s.body))
        zones = la.zones_table(CONTENT_W, athlete=True)
        if zones is not None:
            part += [P(v.tr("lactate_zones"), s.h3), zones]
        story.append(KeepTogether(part))
    story.append(Spacer(1, 10))
    story.append(P(v.tr("retest"), s.body))
    return story
