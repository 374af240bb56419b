"""The same report as an editable Word document (python-docx): the PDF's story walked flowable by flowable —
headings, paragraphs and tables as Word text and tables, charts (and the percentile bar) as PNG images — so the lab
can edit the conclusion and print it.

Charts are vector flowables of this package; they are drawn into one PDF (a page per chart, sized to it) and
rasterised in this process by PDFium (raster.py). A chart PDFium cannot draw leaves a line saying so; nothing else fails.
"""
from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_ORIENT  # noqa: F401  (portrait A4, as the PDF)
from docx.shared import Mm, Pt, RGBColor
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, Paragraph, Spacer, Table

from . import charts as ch
from . import data as dm
from . import document, fonts, raster
from .i18n import t

RASTER_DPI = 100  # sharp enough on paper at the width Word shows it; each step up costs time


class Rasteriser:
    """PNG pages of the flowables (one per flowable; None where one could not be drawn)."""

    def __init__(self, flowables: list):
        self.flowables = flowables

    def pngs(self) -> list[bytes | None]:
        if not self.flowables:
            return []
        try:
            out: list = raster.pdf_pages_to_png(_charts_pdf(self.flowables), RASTER_DPI)
        except raster.RasterError:  # PDFium refused the page: the document goes out with the chart titles instead
            out = []
        return out + [None] * (len(self.flowables) - len(out))


def rasterise(flowables: list) -> list[bytes | None]:
    """PNG bytes of each flowable."""
    return Rasteriser(flowables).pngs()


def _charts_pdf(flowables: list) -> bytes:
    fonts.register()
    buf = io.BytesIO()
    c = rl_canvas.Canvas(buf)
    for f in flowables:
        w, h = f.wrap(f.width, f.height)
        c.setPageSize((w + 4, h + 4))
        f.drawOn(c, 2, 2)
        c.showPage()
    c.save()
    return buf.getvalue()


def _images(story) -> list:
    found = []

    def walk(item):
        if isinstance(item, (ch.Chart, ch.PercentileBar)):
            found.append(item)
        elif isinstance(item, Table):
            for row in item._cellvalues:
                for cell in row:
                    for sub in cell if isinstance(cell, (list, tuple)) else [cell]:
                        walk(sub)
        elif isinstance(item, KeepTogether):
            for sub in item._content:
                walk(sub)

    for item in story:
        walk(item)
    return found


def _text(cell) -> str:
    if isinstance(cell, str):
        return cell
    if isinstance(cell, Paragraph):
        return cell.getPlainText()
    if isinstance(cell, (list, tuple)):
        return "\n".join(x for x in (_text(c) for c in cell) if x)
    return ""


class Writer:
    def __init__(self, doc, lang: str, accent):
        self.doc, self.lang = doc, lang
        self.pictures: list = []   # (run, flowable, width): filled in once the rasteriser is done
        self.accent = RGBColor.from_string(accent.hexval()[2:].upper().rjust(6, "0")) if accent is not None else None

    def paragraph(self, para: Paragraph, container=None):
        text = para.getPlainText().strip()
        if not text:
            return
        name = para.style.name
        if container is None and name in ("h1", "h2", "h3"):
            heading = self.doc.add_heading(text, level={"h1": 0, "h2": 1, "h3": 2}[name])
            if self.accent is not None and name == "h2":
                for run in heading.runs:
                    run.font.color.rgb = self.accent
            return
        target = container if container is not None else self.doc
        p = target.add_paragraph()
        run = p.add_run(text)
        run.font.size = Pt(min(max(para.style.fontSize, 7), 14) if name not in ("big", "huge") else 28)
        run.bold = "Bold" in para.style.fontName

    def image(self, flowable):
        width_mm = min(170, flowable.width / 72 * 25.4)
        self.pictures.append((self.doc.add_paragraph().add_run(), flowable, Mm(width_mm)))

    def place_pictures(self, images: dict):
        for run, flowable, width in self.pictures:
            png = images.get(id(flowable))
            if png is None:  # PDFium could not draw it: the chart's title stands in its place
                run.text = getattr(flowable, "title", "") or ""
            else:
                run.add_picture(io.BytesIO(png), width=width)

    def table(self, table: Table):
        rows = table._cellvalues
        layout = any(isinstance(sub, (ch.Chart, ch.PercentileBar, Table))
                     for row in rows for cell in row for sub in (cell if isinstance(cell, (list, tuple)) else [cell]))
        if layout:  # a layout table (chart beside a table, number beside text): its parts one after another
            for row in rows:
                for cell in row:
                    for sub in cell if isinstance(cell, (list, tuple)) else [cell]:
                        self.flowable(sub)
            return
        from docx.table import _Cell

        n_cols = max(len(r) for r in rows)
        out = self.doc.add_table(rows=len(rows), cols=n_cols)
        out.style = "Table Grid"
        # cells straight from the XML rows: Table.cell() re-reads the whole grid on every call
        for i, (tr, row) in enumerate(zip(out._tbl.tr_lst, rows)):
            for tc, cell in zip(tr.tc_lst, row):
                text = _text(cell)
                if text:
                    run = _Cell(tc, out).paragraphs[0].add_run(text)
                    run.font.size = Pt(8)
                    run.bold = i == 0
        self.doc.add_paragraph()

    def flowable(self, item):
        if isinstance(item, Paragraph):
            self.paragraph(item)
        elif isinstance(item, (ch.Chart, ch.PercentileBar)):
            self.image(item)
        elif isinstance(item, Table):
            self.table(item)
        elif isinstance(item, KeepTogether):
            for sub in item._content:
                self.flowable(sub)
        elif isinstance(item, PageBreak) and not isinstance(item, CondPageBreak):
            self.doc.add_page_break()
        elif isinstance(item, (Spacer, CondPageBreak)):
            pass


def build(data: dm.ReportData, lang: str, template: str) -> bytes:
    v, story = document.story_of(data, lang, template)
    found = _images(story)
    rasteriser = Rasteriser(found)
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(15))
    header = section.header.paragraphs[0]
    if v.brand.logo_png:
        header.add_run().add_picture(io.BytesIO(v.brand.logo_png), height=Mm(9))
        header.add_run("  ")
    name = header.add_run(v.brand.lab_name or t(lang, "brand"))
    name.bold = True
    contact = " · ".join(x for x in (v.brand.lab_address, v.brand.lab_contact) if x)
    if contact:
        section.header.add_paragraph(contact)
    footer = section.footer.paragraphs[0]
    footer.text = " · ".join(x for x in (data.athlete.name, document.fmt_date(data.test.date, lang)) if x)
    doc.core_properties.title = f"{t(lang, document.title_key(v, template))} — {data.athlete.name}"
    doc.core_properties.language = lang
    doc.core_properties.author = v.brand.lab_name or t(lang, "brand")
    writer = Writer(doc, lang, v.accent)
    for item in story:
        writer.flowable(item)
    writer.place_pictures({id(f): png for f, png in zip(found, rasteriser.pngs())})
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
