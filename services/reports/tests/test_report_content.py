"""Issue 15: what the reports say, in which words. Every template in both languages on a CPET, a lactate-only and a
combined reference test: one language per report, no raw identifiers, plural forms, cells that fit, the panels the
test has data for, the lactate layout, the conclusion."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, Table

from reports.rendering import AthleteInfo, Branding, ReportData, render_report
from reports.rendering import charts as ch, document, i18n

from . import reference

REFERENCES = {"cpet": reference.zan_ramp, "lactate": reference.lactate_only, "combined": reference.step_with_lactate}
IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")      # snake_case: hr_bpm, missing_channel
SEVERITY = re.compile(r"\[(?:info|warning|error)\]")
FIELD = re.compile(r"\{[a-z_0-9]+\}")


def text_of(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages))


def catalogue_fragments(lang: str) -> set[str]:
    """Literal pieces (≥ 6 characters, with a word of ≥ 4 letters) of the catalogue of `lang` that the other
    language's catalogue does not share: one of them in a report of the other language is a leak."""
    other = "ru" if lang == "en" else "en"
    theirs = " ".join(v if isinstance(v, str) else " ".join(v) for v in i18n.LABELS[other].values())
    out = set()
    for value in i18n.LABELS[lang].values():
        for text in (value,) if isinstance(value, str) else value:
            for piece in FIELD.split(text):
                piece = piece.strip(" ,.:;()—-+")
                if len(piece) >= 6 and re.search(r"[A-Za-zА-Яа-яЁё]{4}", piece) and piece not in theirs:
                    out.add(piece)
    return out


@pytest.fixture(scope="module")
def reports():
    out = {}
    for name, make in REFERENCES.items():
        payload = make()
        data = reference.report_data(payload, conclusion="Aerobic base is good." if name == "cpet" else None)
        out[name] = (payload, data, {(lang, tpl): render_report(data, lang, tpl) for lang in ("ru", "en")
                                     for tpl in ("full", "athlete")})
    return out


@pytest.mark.parametrize("name", list(REFERENCES))
@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("template", ["full", "athlete"])
def test_one_language_and_no_identifiers(reports, name, lang, template):
    payload, data, pdfs = reports[name]
    text = text_of(pdfs[(lang, template)])
    assert data.athlete.name in text
    assert not IDENTIFIER.findall(text), IDENTIFIER.findall(text)
    assert not SEVERITY.search(text)
    own = text.replace(data.athlete.name, "").replace(data.athlete.sport or "\0", "")
    if lang == "en":
        assert not re.search("[А-Яа-яЁё]", own), re.findall(r"\S*[А-Яа-яЁё]+\S*", own)[:10]
    else:
        leaks = sorted(f for f in catalogue_fragments("en") if f in own)
        assert not leaks, leaks
        for english in ("female", "male,", "non-protein", "analysis version", "engine ", "steps", "see analysis"):
            assert english not in own, english


def test_russian_plural_forms():
    assert [i18n.tn("ru", "age_value", n) for n in (21, 32, 25, 11, 112, 1, 4)] == [
        "21 год", "32 года", "25 лет", "11 лет", "112 лет", "1 год", "4 года"]
    assert i18n.tn("en", "age_value", 1) == "1 year" and i18n.tn("en", "age_value", 32) == "32 years"
    born = AthleteInfo(name="Пётр Сидоров", birth_date=dt.date(1992, 1, 1))
    data = ReportData(athlete=born, test=reference.report_data(reference.zan_ramp()).test)
    assert "32 года" in text_of(render_report(data, "ru", "full"))


def test_numbers_and_dates_in_the_language(reports):
    payload, data, pdfs = reports["cpet"]
    ru, en = text_of(pdfs[("ru", "full")]), text_of(pdfs[("en", "full")])
    assert "02.05.2024" in ru and "2 May 2024" in en
    vo2 = payload["result"]["vo2max"]["vo2_ml_kg_min"]
    assert i18n.num(vo2, 1, "ru") in ru and i18n.num(vo2, 1, "en") not in ru
    assert "FRIEND" in ru and "мужчины, 20–29 лет" in ru and "men, 20–29 years" in en


def walk(flowable):
    yield flowable
    for sub in getattr(flowable, "_content", None) or []:
        yield from walk(sub)
    if isinstance(flowable, Table):
        for row in flowable._cellvalues:
            for cell in row:
                for sub in cell if isinstance(cell, (list, tuple)) else [cell]:
                    yield from walk(sub)


def overflowing_cells(story) -> list[str]:
    """Cells whose text is wider than the column: a plain string wider than the cell, or a paragraph with a word
    wider than the cell (a word that would be broken, like "Threshol / d")."""
    bad = []
    for f in (x for item in story for x in walk(item)):
        if not isinstance(f, Table):
            continue
        spans = {(r, c) for _, (c0, r0), (c1, r1) in f._spanCmds
                 for r in range(r0, (r1 % len(f._cellvalues)) + 1) for c in range(c0, (c1 % len(f._colWidths)) + 1)}
        for i, row in enumerate(f._cellvalues):
            for j, cell in enumerate(row):
                if (i, j) in spans:
                    continue
                cs = f._cellStyles[i][j]
                width = float(f._colWidths[j]) - cs.leftPadding - cs.rightPadding + 0.5
                if isinstance(cell, str) and stringWidth(cell, cs.fontname, cs.fontsize) > width:
                    bad.append(cell)
                elif isinstance(cell, Paragraph) and cell.minWidth() > width:
                    bad.append(cell.getPlainText())
    return bad


@pytest.mark.parametrize("name", list(REFERENCES))
@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("template", ["full", "athlete"])
def test_text_never_overflows_a_cell(reports, name, lang, template):
    _, data, _ = reports[name]
    _, story = document.story_of(data, lang, template)
    assert overflowing_cells(story) == []


def test_a_long_zone_name_wraps_instead_of_running_into_the_next_column():
    table = document.grid_table([["Зона", "ЧСС"], ["Z2 Аэробная выносливость", "150–160"]], [70, 40], font_size=9)
    cell = table._cellvalues[1][0]
    assert isinstance(cell, Paragraph) and cell.minWidth() <= 70 - 6 + 0.5
    assert overflowing_cells([table]) == []
    head = document.grid_table([["Threshold", "Method"], ["x", "y"]], [36, 60])
    assert overflowing_cells([head]) == []  # the header word shrinks to fit, it is never split


def charts_of(data, lang="en", template="full"):
    _, story = document.story_of(data, lang, template)
    return [f for item in story for f in walk(item) if isinstance(f, ch.Chart)]


def test_panels_draw_every_channel_the_test_has_and_leave_out_the_rest(reports):
    tr = i18n.EN
    _, zan, _ = reports["cpet"]
    charts = {c.title: c for c in charts_of(zan)}
    assert tr["ch_pet"] not in charts                       # no end-tidal pressures in the ZAN export
    hr = charts[tr["ch_hr_vo2"]]
    assert {s.label for s in hr.series} == {"VO2", "HR"} and all(len(s.x) > 50 for s in hr.series)
    for c in charts.values():
        assert c.series, f"{c.title} is an empty box"
    _, step, _ = reports["combined"]
    pet = {c.title: c for c in charts_of(step)}[tr["ch_pet"]]
    assert {s.label for s in pet.series} == {"PetO2", "PetCO2"}
    without_hr = ReportData(athlete=zan.athlete, test=zan.test, result=zan.result,
                            samples={k: v for k, v in zan.samples.items() if k != "hr_bpm"})
    without_hr.result = {**zan.result, "peak": {**zan.result["peak"], "hr_bpm": None}}
    assert tr["ch_hr_vo2"] not in {c.title for c in charts_of(without_hr)}


def test_thresholds_and_phases_are_marked_on_the_time_panels(reports):
    payload, zan, _ = reports["cpet"]
    phases = payload["result"]["protocol"]["phases"]
    time_charts = [c for c in charts_of(zan) if c.x_label == i18n.EN["ax_time"]]
    assert time_charts
    for c in time_charts:
        assert {m.label for m in c.vlines} == {"VT1", "VT2"}
        assert [round(b[0] * 60) for b in c.bands] == [round(p["start_s"]) for p in phases
                                                        if p["phase"] != "incremental"]


def test_orient_by_heart_rate_only_when_the_test_has_heart_rate(reports):
    _, zan, pdfs = reports["cpet"]
    assert i18n.EN["zones_explained"] in text_of(pdfs[("en", "athlete")])
    no_hr = ReportData(athlete=zan.athlete, test=zan.test,
                       result={**zan.result, "peak": {**zan.result["peak"], "hr_bpm": None}},
                       samples={k: v for k, v in zan.samples.items() if k != "hr_bpm"})
    text = text_of(render_report(no_hr, "en", "athlete"))
    assert i18n.EN["zones_explained"] not in text and i18n.EN["zones_explained_no_hr"] in text


def test_averaging_text_reads_what_the_cleaning_step_did(reports):
    _, zan, _ = reports["cpet"]
    v = document.View(zan, "en")
    assert document.averaging_text(v).endswith(i18n.EN["outliers_off"])
    for outliers, expected in (({"method": "lamarra", "sd": 3.0, "applied": True}, "3.0 SD"),
                               ({"method": "lamarra", "sd": 3.0, "applied": False}, i18n.EN["outliers_not_applied"]),
                               ({"method": "prediction_band", "level": 0.95, "applied": True}, "95 %")):
        zan.averaging = {"method": "time", "seconds": 30, "outliers": outliers, "outlier_sd": None}
        assert expected in document.averaging_text(document.View(zan, "en"))
    zan.averaging = None


def test_lactate_only_test_has_its_own_layout(reports):
    payload, data, pdfs = reports["lactate"]
    tr = i18n.EN
    text = text_of(pdfs[("en", "full")])
    for label in (tr["title_lactate"], tr["section_lactate_thresholds"], tr["lactate_zones"], "LT1", "LT2"):
        assert label in text
    for cpet in (tr["section_vo2max"], tr["charts"], tr["section_thresholds"], tr["no_data"], tr["averaging"]):
        assert cpet not in text
    by_method = {t["method"]: t for t in payload["lactate_result"]["thresholds"]}
    for method in ("LTP1", "LTP2", "OBLA 4.0", "Dmax"):
        assert i18n.num(by_method[method]["intensity"], 0, "en") in text
    assert "Chosen thresholds: LT1 by LTP1, LT2 by LTP2." in text
    assert i18n.num(by_method["LTP1"]["heart_rate"], 0, "en") in text      # HR at each threshold
    la = document.Lactate(document.View(data, "en"))
    zones = la.zones()
    assert zones[0]["intensity"][1] == by_method["LTP1"]["intensity"]
    assert zones[1]["hr"] == (by_method["LTP1"]["heart_rate"], by_method["LTP2"]["heart_rate"])
    chart = la.chart(300, 200)
    assert chart.x_label == "Intensity, W"


def test_the_lactate_curve_is_monotone_and_never_below_the_measured_baseline():
    steps = reference.lactate_only()["lactate_steps"]
    points = [(s["intensity"], s["lactate"]) for s in steps]
    xs, ys = document.monotone_curve(points)
    assert all(b >= a - 1e-12 for a, b in zip(ys, ys[1:]))
    assert min(ys) >= min(la for _, la in points) - 1e-9 and ys[0] > 0
    assert abs(ys[-1] - points[-1][1]) < 1e-9                              # through the last measured point
    assert xs[0] == points[0][0] and xs[-1] == points[-1][0]


def test_combined_test_shows_both(reports):
    _, _, pdfs = reports["combined"]
    text = text_of(pdfs[("ru", "full")])
    for key in ("section_vo2max", "charts", "section_lactate", "section_lactate_thresholds", "lactate_zones",
                "section_fatmax"):
        assert i18n.RU[key] in text, key


def test_conclusion_is_its_own_section(reports):
    _, data, pdfs = reports["cpet"]
    for lang in ("ru", "en"):
        text = text_of(pdfs[(lang, "full")])
        assert i18n.LABELS[lang]["section_conclusion"] in text and "Aerobic base is good." in text
    assert i18n.EN["section_conclusion"] not in text_of(render_report(reports["combined"][1], "en", "full"))


def test_lab_name_and_contacts_on_every_page_header(reports):
    _, data, _ = reports["cpet"]
    branded = ReportData(athlete=data.athlete, test=data.test, result=data.result, samples=data.samples,
                         branding=Branding(lab_name="Лаборатория спортивной медицины «Пульс»",
                                           lab_contact="+7 495 000-00-00", accent_color="#aa3300"))
    pdf = render_report(branded, "ru", "full")
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) >= 2
    for page in pages:
        text = page.extract_text()
        assert "Лаборатория спортивной медицины «Пульс»" in text and "+7 495 000-00-00" in text


@pytest.mark.parametrize("name", list(REFERENCES))
def test_docx_has_the_same_sections_in_one_language(reports, name):
    from docx import Document

    from reports.rendering import render_docx

    _, data, pdfs = reports[name]
    for lang in ("ru", "en"):
        doc = Document(io.BytesIO(render_docx(data, lang, "full")))
        words = "\n".join([p.text for p in doc.paragraphs] +
                          [c.text for t in doc.tables for row in t.rows for c in row.cells])
        assert data.athlete.name in words
        assert not IDENTIFIER.findall(words) and not SEVERITY.search(words)
        pdf_headings = {i18n.LABELS[lang][k] for k in ("section_vo2max", "charts", "section_lactate_thresholds",
                                                      "section_methods", "section_conclusion")}
        headings = {p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))}
        assert {h for h in pdf_headings if h in text_of(pdfs[(lang, "full")])} <= headings
        if lang == "ru":
            own = words.replace(data.athlete.name, "")
            assert not sorted(f for f in catalogue_fragments("en") if f in own)
        assert len(doc.inline_shapes) == len([f for f in charts_of(data, lang)]) + (1 if data.has_cpet else 0)
