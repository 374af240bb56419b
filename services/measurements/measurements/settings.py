"""measurements: athletes, exercise tests, samples, lactate steps, imports, stored results and overrides."""
from servicekit.django.settings import build

globals().update(build(
    "measurements",
    apps=["measurements.athletes"],
    urlconf="measurements.urls",
    title="VO2max Report — measurements",
    description="Athletes, exercise tests, samples, imports and stored analysis results.",
))
