"""The report renderer: a pure package (reportlab only, no Django) that turns `ReportData` into PDF bytes.

    from reports.rendering import ReportData, AthleteInfo, TestInfo, PreviousTest, render_report
    pdf = render_report(data, language="ru", template="full")

language: "ru" | "en"; template: "full" (the lab report) | "athlete" (a friendly two-page summary).
"""
from __future__ import annotations

from .data import AthleteInfo, Branding, PreviousTest, ReportData, TestInfo, decimate, prepare_samples
from .fonts import FontMissing
from .i18n import LANGUAGES

TEMPLATES = ("full", "athlete")

__all__ = ["AthleteInfo", "Branding", "FontMissing", "LANGUAGES", "PreviousTest", "ReportData", "TEMPLATES",
           "TestInfo", "decimate", "prepare_samples", "render_docx", "render_report"]


def render_report(data: ReportData, language: str = "en", template: str = "full") -> bytes:
    """PDF bytes. Raises ValueError for an unknown language or template, FontMissing without a Cyrillic font."""
    from . import document
    from .i18n import check_language

    check_language(language)
    if template not in TEMPLATES:
        raise ValueError(f"template must be one of {', '.join(TEMPLATES)}, not {template!r}")
    if not isinstance(data, ReportData):
        raise TypeError("render_report needs a ReportData")
    return document.build(data, language, template)


def render_docx(data: ReportData, language: str = "en", template: str = "full") -> bytes:
    """The same report as a Word document (python-docx), charts as images: for the lab to edit and print."""
    from . import docx_document
    from .i18n import check_language

    check_language(language)
    if template not in TEMPLATES:
        raise ValueError(f"template must be one of {', '.join(TEMPLATES)}, not {template!r}")
    return docx_document.build(data, language, template)
