"""notifications: in-app notifications, e-mail, signed webhooks, preferences, delivery log (substance comes with the
events issue)."""
from servicekit.django.settings import build

globals().update(build(
    "notifications",
    apps=[],
    urlconf="notifications.urls",
    title="VO2max Report — notifications",
    description="In-app notifications, e-mail and signed webhooks.",
))
