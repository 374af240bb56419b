"""The renderer on reference tests: both languages × both templates, read back with pypdf and rasterised."""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from reports.rendering import PreviousTest, ReportData, AthleteInfo, TestInfo, render_report
from reports.rendering import data as dm, fonts, i18n

from . import reference

PREVIOUS = PreviousTest(date=dt.date(2024, 1, 10), vo2max_ml_kg_min=70.2, vo2max_ml_min=4700, body_mass_kg=67,
                        vt1_hr_bpm=158, vt2_hr_bpm=186, vt1_speed_kmh=11.5, vt2_speed_kmh=17.0, peak_speed_kmh=21.0,
                        hr_max_bpm=199)


@pytest.fixture(scope="module")
def zan():
    return reference.zan_ramp()


@pytest.fixture(scope="module")
def rendered(zan):
    data = reference.report_data(zan, previous=PREVIOUS)
    return {(lang, tpl): render_report(data, lang, tpl) for lang in ("ru", "en") for tpl in ("full", "athlete")}


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def vo2max_text(result, lang, mass=66.0):
    v = result["vo2max"].get("vo2_ml_kg_min") or result["vo2max"]["vo2_ml_min"] / mass
    return i18n.num(v, 1, lang)


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("template", ["full", "athlete"])
def test_report_names_the_athlete_and_the_numbers_in_the_language(rendered, zan, lang, template):
    pdf = rendered[(lang, template)]
    assert pdf.startswith(b"%PDF-")
    text = flat(text_of(pdf))
    assert "Иван Петров" in text
    expected = vo2max_text(zan["result"], lang)
    assert expected in text, f"VO2max {expected} not in the {lang}/{template} report"
    if lang == "ru":
        assert "," in expected  # decimal comma: "76,5", never "76.5"
        assert expected.replace(",", ".") not in text
    vt1, vt2 = zan["result"]["vt1"], zan["result"]["vt2"]
    for vt in (vt1, vt2):
        assert i18n.num(vt["hr_bpm"], 0, lang) in text  # threshold heart rates
    if template == "full":
        for vt in (vt1, vt2):  # threshold VO2 and time as printed in the thresholds table
            assert i18n.num(vt["vo2_ml_min"], 0, lang) in text
            assert i18n.clock(vt["time_s"]) in text
    labels = {"ru": ["Тренировочные зоны" if template == "full" else "Ваши тренировочные зоны", "ЧСС", "мл/кг/мин"],
              "en": ["Training zones" if template == "full" else "Your training zones", "ml/kg/min"]}[lang]
    for label in labels:
        assert label in text
    if lang == "en":
        assert not re.search("[А-Яа-яЁё]", text.replace("Иван Петров", "").replace("бег", ""))


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_full_report_sections_and_pages(rendered, lang):
    pdf = rendered[(lang, "full")]
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    text = flat(text_of(pdf))
    tr = i18n.LABELS[lang]
    for key in ("section_vo2max", "section_thresholds", "charts", "ch_vslope", "ch_eq", "ch_ve", "ch_hr_vo2",
                "ch_rer", "section_zones", "section_comparison", "section_methods", "averaging"):
        assert tr[key] in text, key
    assert tr["ch_pet"] not in text  # the ZAN export records no end-tidal pressures: no empty PetO2 box
    assert "FRIEND" in text
    assert tr["page"].format(n=3, m=3) in text
    assert len(PdfReader(io.BytesIO(rendered[(lang, "athlete")])).pages) == 2


def test_fonts_are_embedded_truetype(rendered):
    for pdf in rendered.values():
        reader = PdfReader(io.BytesIO(pdf))
        embedded, names = 0, set()
        for page in reader.pages:
            for font in (page["/Resources"].get("/Font") or {}).values():
                font = font.get_object()
                names.add(str(font.get("/BaseFont")))
                for desc in [font.get("/FontDescriptor")] + [d.get_object().get("/FontDescriptor")
                                                             for d in font.get("/DescendantFonts") or []]:
                    if desc is not None and "/FontFile2" in desc.get_object():
                        embedded += 1
        assert embedded >= 2, names  # regular and bold, embedded
        assert all("DejaVu" in n or "VO2Sans" in n for n in names), names


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
@pytest.mark.parametrize("lang,template,page", [("ru", "full", 1), ("ru", "full", 2), ("en", "athlete", 1)])
def test_pages_rasterise_to_something_visible(rendered, tmp_path, lang, template, page):
    from PIL import Image, ImageStat

    pdf_path = tmp_path / "r.pdf"
    pdf_path.write_bytes(rendered[(lang, template)])
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", str(page), "-l", str(page), str(pdf_path),
                    str(tmp_path / "p")], check=True, capture_output=True)
    png = next(tmp_path.glob("p*.png"))
    image = Image.open(png).convert("L")
    stat = ImageStat.Stat(image)
    assert stat.var[0] > 200, f"page {page} looks blank (variance {stat.var[0]:.0f})"
    dark = sum(image.histogram()[:128]) / (image.width * image.height)
    assert 0.005 < dark < 0.5  # ink, but not a black page


def test_step_test_with_lactate_and_fatmax():
    payload = reference.step_with_lactate()
    data = reference.report_data(payload)
    for lang in ("ru", "en"):
        text = flat(text_of(render_report(data, lang, "full")))
        tr = i18n.LABELS[lang]
        assert tr["section_lactate"] in text
        assert tr["section_fatmax"] in text
        for th in payload["lactate_result"]["thresholds"][:3]:
            assert i18n.num(th["intensity"], 0, lang) in text  # watts, whole numbers
        assert payload["result"]["fatmax"]["available"]  # the stored step test has steady stages below RER 1
        assert tr["mfo"] in text


def test_manual_override_is_marked():
    payload = reference.zan_ramp()
    result = dict(payload["result"])
    result["vt1"] = {**result["vt1"], "method": "manual", "manual": True, "hr_bpm": 150.0}
    text = flat(text_of(render_report(reference.report_data({**payload, "result": result}), "en", "full")))
    assert "chosen: manual" in text and i18n.EN["manual_note"] in text


@pytest.mark.parametrize("result", [{}, {"vo2max": None, "vt1": None, "vt2": None, "zones": None, "peak": None},
                                    {"vo2max": {"vo2_ml_min": None}, "zones": {"three_zone": [{"name": "x"}]},
                                     "fatmax": {"available": False, "reason": None}, "quality": {"flags": [None]}}])
@pytest.mark.parametrize("template", ["full", "athlete"])
def test_missing_parts_render_without_crashing(result, template):
    data = ReportData(athlete=AthleteInfo(name="Nobody"), result=result, samples={"time_s": [1, 2, 3]})
    for lang in ("ru", "en"):
        text = flat(text_of(render_report(data, lang, template)))
        assert "Nobody" in text


def test_bad_language_or_template_is_refused():
    data = ReportData(athlete=AthleteInfo(name="X"))
    with pytest.raises(ValueError):
        render_report(data, "de", "full")
    with pytest.raises(ValueError):
        render_report(data, "en", "poster")


def test_translations_have_the_same_keys():
    assert set(i18n.EN) == set(i18n.RU)


def test_numbers_follow_the_language():
    assert i18n.num(52.34, 1, "ru") == "52,3"
    assert i18n.num(52.34, 1, "en") == "52.3"
    assert i18n.num(-1.25, 1, "ru") == "\u22121,2" or i18n.num(-1.25, 1, "ru") == "\u22121,3"
    assert i18n.num(None, 1, "ru") == i18n.DASH
    assert i18n.num(float("nan"), 0, "en") == i18n.DASH
    assert i18n.clock(425.6) == "7:06"
    assert i18n.date("2024-05-02", "ru") == "02.05.2024" and i18n.date("2024-05-02", "en") == "2 May 2024"


def test_decimation_keeps_extremes_and_bounds_the_count():
    n = 5000
    x = list(range(n))
    y = [((i * 7919) % 1000) / 10.0 for i in range(n)]
    y[1234], y[4321] = 500.0, -500.0
    xs, ys = dm.decimate(x, y, 600)
    assert len(xs) <= 600 and xs == sorted(xs)
    assert 500.0 in ys and -500.0 in ys
    xs, ys = dm.decimate([1, 2, float("nan")], [1, float("nan"), 3])
    assert xs == [1] and ys == [1]


def test_samples_are_prepared_from_numpy_like_columns_with_gaps():
    prepared = dm.prepare_samples({"time_s": [3, 1, 2], "vo2_ml_min": [30, None, "x"], "hr_bpm": [None, None, None]})
    assert prepared["time_s"].tolist() == [1.0, 2.0, 3.0]
    assert prepared["vo2_ml_min"][2] == 30.0 and "hr_bpm" not in prepared


def test_font_directory_from_the_environment(tmp_path, monkeypatch):
    shutil.copy(fonts.PACKAGED / "DejaVuSans.ttf", tmp_path / "DejaVuSans.ttf")
    monkeypatch.setenv("REPORT_FONT_DIR", str(tmp_path))
    assert fonts.find_font("DejaVuSans.ttf") == tmp_path / "DejaVuSans.ttf"
    monkeypatch.delenv("REPORT_FONT_DIR")
    assert fonts.find_font("DejaVuSans.ttf") == fonts.PACKAGED / "DejaVuSans.ttf"
    assert (fonts.PACKAGED / "LICENSE.dejavu").is_file()
