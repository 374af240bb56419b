"""Benchmark of the PDF renderer (plain script, no timed assertions anywhere).

    .venv/bin/python bench/report.py

For each input (the ZAN ramp reference test, and a synthetic 2,000-breath ramp from the analysis engine), in the same
process and run: the full report (reports.rendering.render_report, language ru) against a bare reportlab document
with the same number of pages and the same number of chart points (a canvas, the same embedded DejaVu font, one
title per page, the points drawn as polylines with the public path API). Prints min and median ms and the ratio
(target: full report <= 300 ms and <= 2x the bare document), and the same report as DOCX (reports.rendering.
render_docx: python-docx, charts rasterised in-process by PDFium; target <= 500 ms).
"""
from __future__ import annotations

import datetime as dt
import io
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services" / "reports"))
sys.path.insert(0, str(REPO / "services" / "analysis"))

from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402
from reportlab.platypus import Table  # noqa: E402

from reports.rendering import (AthleteInfo, PreviousTest, ReportData, TestInfo, render_docx,  # noqa: E402
                               render_report)
from reports.rendering import document, fonts  # noqa: E402
from reports.rendering.charts import Chart  # noqa: E402


def inputs():
    from analysis.engine import analyze_cpet
    from analysis.engine.synthetic import ramp_test
    from analysis.formats import merge_heart_rate, read_export

    spiro = REPO / "testdata" / "cpet" / "spiro"
    parsed = merge_heart_rate(read_export((spiro / "zan_ramp").read_bytes(), "zan_ramp"),
                              (spiro / "hr_ramp.tcx").read_bytes())
    athlete = AthleteInfo(name="Иван Петров", sex="male", birth_date=dt.date(1998, 10, 4), body_mass_kg=66,
                          height_cm=180, sport="бег")
    previous = PreviousTest(date=dt.date(2024, 1, 10), vo2max_ml_kg_min=70.2, vo2max_ml_min=4700, vt1_hr_bpm=158,
                            vt2_hr_bpm=186)
    yield ("zan_ramp (reference, %d breaths)" % len(parsed.samples["time_s"]),
           ReportData(athlete=athlete, test=TestInfo(date=dt.date(2024, 5, 2), modality="running"),
                      result=analyze_cpet(parsed.samples, {"sex": "male", "age": 25, "body_mass_kg": 66}),
                      samples=parsed.samples, previous=previous))
    samples, _ = ramp_test(seed=7, n_breaths=2000)
    yield ("synthetic ramp (2,000 breaths)",
           ReportData(athlete=AthleteInfo(name="Anna Smith", sex="female", age_years=34, body_mass_kg=60),
                      test=TestInfo(date=dt.date(2024, 6, 1), modality="cycling"),
                      result=analyze_cpet(samples, {"sex": "female", "age": 34, "body_mass_kg": 60}), samples=samples))


def chart_points(data: ReportData, lang: str) -> list[list[float]]:
    """The point lists of every chart the full report draws (the same ones, decimated)."""
    story = document.full_story(document.View(data, lang), document.styles())
    found = []

    def walk(item):
        if isinstance(item, Chart):
            found.extend(s.y for s in item.series)
        elif isinstance(item, Table):
            for row in item._cellvalues:
                for cell in row:
                    for sub in (cell if isinstance(cell, (list, tuple)) else [cell]):
                        walk(sub)
        elif hasattr(item, "_content"):
            for sub in item._content:
                walk(sub)

    for flowable in story:
        walk(flowable)
    return found


def bare(pages: int, lines: list[list[float]]) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    per_page = max(1, -(-len(lines) // pages))
    for page in range(pages):
        c.setFont(fonts.REGULAR, 14)
        c.drawString(50, 800, f"Страница {page + 1}")
        for k, ys in enumerate(lines[page * per_page:(page + 1) * per_page]):
            if len(ys) < 2:
                continue
            lo, hi = min(ys), max(ys)
            span = (hi - lo) or 1.0
            x0, y0 = 50 + (k % 2) * 260, 80 + (k // 2 % 3) * 230
            path = c.beginPath()
            for i, y in enumerate(ys):
                x, yy = x0 + 240 * i / (len(ys) - 1), y0 + 180 * (y - lo) / span
                path.lineTo(x, yy) if i else path.moveTo(x, yy)
            c.drawPath(path, stroke=1, fill=0)
        c.showPage()
    c.save()
    return buf.getvalue()


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main(runs: int = 20) -> None:
    from pypdf import PdfReader

    t0 = time.perf_counter()
    fonts.register()
    print(f"font registration (once per process): {(time.perf_counter() - t0) * 1000:.0f} ms")
    for name, data in inputs():
        pdf = render_report(data, "ru", "full")  # warm-up
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        lines = chart_points(data, "ru")
        points = sum(len(y) for y in lines)
        bare(pages, lines)
        report_ms, bare_ms = [], []
        for _ in range(runs):  # interleaved, so that load from other processes weighs on both alike
            report_ms += timed(lambda: render_report(data, "ru", "full"), 1)
            bare_ms += timed(lambda: bare(pages, lines), 1)
        athlete_ms = timed(lambda: render_report(data, "ru", "athlete"), runs)
        render_docx(data, "ru", "full")  # warm-up (python-docx's template)
        docx_ms, raster_ms = [], []
        from reports.rendering import docx_document

        charts = docx_document._images(document.story_of(data, "ru", "full")[1])
        for _ in range(max(5, runs // 2)):  # interleaved with its largest part: PDFium drawing the charts
            docx_ms += timed(lambda: render_docx(data, "ru", "full"), 1)
            raster_ms += timed(lambda: docx_document.rasterise(charts), 1)
        r_min, b_min = min(report_ms), min(bare_ms)
        r_med, b_med = statistics.median(report_ms), statistics.median(bare_ms)
        print(f"{name}: {pages} pages, {len(lines)} chart lines, {points} chart points, {len(pdf):,} bytes")
        print(f"  full report    min {r_min:7.1f} ms  median {r_med:7.1f} ms   (target <= 300 ms)")
        print(f"  bare document  min {b_min:7.1f} ms  median {b_med:7.1f} ms")
        print(f"  ratio          min {r_min / b_min:5.2f}x    median {r_med / b_med:5.2f}x   (target <= 2x)")
        print(f"  athlete report min {min(athlete_ms):7.1f} ms  median {statistics.median(athlete_ms):7.1f} ms")
        print(f"  full DOCX      min {min(docx_ms):7.1f} ms  median {statistics.median(docx_ms):7.1f} ms   "
              f"(target <= 500 ms)")
        print(f"  DOCX vs PDF    min {min(docx_ms) / r_min:5.2f}x    median "
              f"{statistics.median(docx_ms) / r_med:5.2f}x   (the same report, same run)")
        print(f"    of which the {len(charts)} charts rasterised by PDFium alone: min {min(raster_ms):7.1f} ms  "
              f"median {statistics.median(raster_ms):7.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
