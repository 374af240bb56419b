"""reports: report requests, rendered PDFs, templates, languages (the rendering itself comes with its own issue)."""
from servicekit.django.settings import build

globals().update(build(
    "reports",
    apps=[],
    urlconf="reports.urls",
    title="VO2max Report — reports",
    description="Athlete and lab PDF reports (Russian and English).",
))
