"""Golden images: every template × language × the CPET, lactate-only and combined reference tests, rendered to
PNG pages with poppler's pdftoppm and compared with the pages stored in tests/golden/ within a tolerance.

A deliberate change of the layout updates them (and the diff of the PNGs shows what changed):

    cd services/reports && UPDATE_GOLDEN=1 ../../.venv/bin/python -m pytest -q tests/test_golden.py

Without UPDATE_GOLDEN a missing or different page fails; pdftoppm is required (CI installs poppler-utils).
The same renders are read back as text: the athlete's name, VO2max, thresholds, the conclusion and the lab's name,
and no page but the last is left half empty.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from pypdf import PdfReader

from reports.rendering import Branding, PreviousTest, i18n, render_report

from . import reference

GOLDEN = Path(__file__).resolve().parent / "golden"
DPI = 30                    # enough to see a moved block or a missing line; small files in the repository
MAX_MEAN_DIFF = 0.25        # mean absolute grey-level difference per pixel (0-255); a VT1 line moved by 30 s is 0.42
MAX_CHANGED = 0.002         # share of pixels differing by more than 48 grey levels (that moved line: 0.3 %)
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
REFERENCES = {"cpet": reference.zan_ramp, "lactate": reference.lactate_only, "combined": reference.step_with_lactate}
LAB = "Лаборатория «Пульс»"
CONCLUSION = {"ru": "Высокая аэробная подготовленность; повторить тест через 10 недель.",
              "en": "High aerobic fitness; re-test in 10 weeks."}
PREVIOUS = PreviousTest(date=dt.date(2021, 3, 1), vo2max_ml_kg_min=68.0, vo2max_ml_min=4488.0, vt1_hr_bpm=160,
                        vt2_hr_bpm=185, change_pct=11.4, meaningful=True, meaningful_change_pct=5.0)


def pages_of(pdf: bytes, tmp: Path) -> list[Image.Image]:
    path = tmp / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", str(path), str(tmp / "page")], check=True,
                   capture_output=True, timeout=120)
    files = sorted(tmp.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [Image.open(f).convert("L") for f in files]


def render(name: str, lang: str, template: str) -> bytes:
    payload = REFERENCES[name]()
    data = reference.report_data(payload, conclusion=CONCLUSION[lang],
                                 branding=Branding(lab_name=LAB, lab_contact="+7 495 000-00-00"),
                                 previous=PREVIOUS if name == "cpet" else None)
    return render_report(data, lang, template)


CASES = [(n, lang, tpl) for n in REFERENCES for lang in ("ru", "en") for tpl in ("full", "athlete")]


@pytest.mark.skipif(shutil.which("pdftoppm") is None and os.environ.get("CI") != "true",
                    reason="pdftoppm (poppler-utils) is not installed")
@pytest.mark.parametrize("name,lang,template", CASES)
def test_pages_match_the_golden_images(tmp_path, name, lang, template):
    pages = pages_of(render(name, lang, template), tmp_path)
    stem = f"{name}-{lang}-{template}"
    stored = sorted(GOLDEN.glob(f"{stem}-p*.png"))
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        for old in stored:
            old.unlink()
        for i, page in enumerate(pages, 1):
            page.save(GOLDEN / f"{stem}-p{i}.png", optimize=True)
        return
    assert stored, f"no golden pages for {stem}: run with UPDATE_GOLDEN=1 (see this module's docstring)"
    assert len(pages) == len(stored), f"{stem}: {len(pages)} pages, the golden report has {len(stored)}"
    for i, (page, path) in enumerate(zip(pages, sorted(stored, key=lambda p: int(p.stem.rsplit("p", 1)[1]))), 1):
        golden = Image.open(path).convert("L")
        assert page.size == golden.size, f"{stem} page {i}: size {page.size} != {golden.size}"
        diff = ImageChops.difference(page, golden)
        mean = ImageStat.Stat(diff).mean[0]
        changed = sum(diff.histogram()[49:]) / (diff.width * diff.height)
        assert mean <= MAX_MEAN_DIFF and changed <= MAX_CHANGED, (
            f"{stem} page {i} differs from {path.name}: mean {mean:.2f}, {100 * changed:.2f} % of pixels changed")


@pytest.mark.skipif(shutil.which("pdftoppm") is None and os.environ.get("CI") != "true",
                    reason="pdftoppm (poppler-utils) is not installed")
@pytest.mark.parametrize("name,lang,template", [c for c in CASES if c[2] == "full"])
def test_no_page_but_the_last_is_half_empty(tmp_path, name, lang, template):
    pages = pages_of(render(name, lang, template), tmp_path)
    for i, page in enumerate(pages[:-1], 1):
        h = page.height
        body = page.crop((0, 0, page.width, int(h * 0.94)))           # above the footer line
        ink = body.point(lambda g: 255 if g < 200 else 0).getbbox()
        assert ink and ink[3] > 0.7 * h, f"page {i} of {name}/{lang} ends at {ink[3] / h:.0%} of the page"


@pytest.mark.parametrize("name,lang,template", CASES)
def test_text_names_the_athlete_numbers_conclusion_and_lab(name, lang, template):
    payload = REFERENCES[name]()
    reader = PdfReader(io.BytesIO(render(name, lang, template)))
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    athlete = payload["athlete"]
    assert f"{athlete['first_name']} {athlete['last_name']}" in text
    assert LAB in text and CONCLUSION[lang] in text
    result = payload["result"]
    if result.get("vo2max"):
        assert i18n.num(result["vo2max"]["vo2_ml_kg_min"], 1, lang) in text
        for key in ("vt1", "vt2"):
            assert i18n.num(result[key]["hr_bpm"], 0, lang) in text
    if payload.get("lactate_result"):
        by_method = {t["method"]: t for t in payload["lactate_result"]["thresholds"]}
        for method in ("LTP1", "LTP2"):
            assert i18n.num(by_method[method]["intensity"], 0, lang) in text
    other = "en" if lang == "ru" else "ru"
    assert i18n.LABELS[other]["section_conclusion"] not in text
