"""notifications: in-app notifications, e-mail (invitations first), signed webhooks later, delivery log."""
from servicekit import config
from servicekit.django.settings import build

globals().update(build(
    "notifications",
    apps=["notifications.inapp", "notifications.mail"],
    urlconf="notifications.urls",
    title="VO2max Report — notifications",
    description="In-app notifications, e-mail and signed webhooks.",
))

EVENT_CONSUMERS = ["notifications.consumers"]

# E-mail: SMTP when EMAIL_HOST is set (SaaS), otherwise files under $VO2_DATA_DIR/mail (local mode).
if config.env("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = config.env("EMAIL_HOST")
    EMAIL_PORT = config.env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = config.env("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = config.env("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = config.env_bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = config.env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = config.env_int("EMAIL_TIMEOUT", 15)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(config.data_dir() / "mail")
DEFAULT_FROM_EMAIL = config.env("DEFAULT_FROM_EMAIL", "VO2max Report <no-reply@vo2max.local>")
MAIL_MAX_ATTEMPTS = config.env_int("MAIL_MAX_ATTEMPTS", 8)
MAIL_RETRY_BASE_SECONDS = float(config.env("MAIL_RETRY_BASE_SECONDS", "30"))
