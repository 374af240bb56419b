"""reports: report requests, rendered PDFs (reports.rendering), templates, languages."""
from servicekit import config
from servicekit.django.settings import build

globals().update(build(
    "reports",
    apps=["reports.documents"],
    urlconf="reports.urls",
    title="VO2max Report — reports",
    description="Athlete and lab PDF reports (Russian and English).",
))

# Where the data comes from: measurements over REST, with a service token from identity acting for the tenant.
MEASUREMENTS_URL = config.env("MEASUREMENTS_URL", "http://127.0.0.1:8002")
MEASUREMENTS_TIMEOUT_S = float(config.env("MEASUREMENTS_TIMEOUT_S", "30"))
IDENTITY_URL = config.env("IDENTITY_URL", "http://127.0.0.1:8001")
SERVICE_CLIENT_ID = config.env("SERVICE_CLIENT_ID", "reports")
SERVICE_CLIENT_SECRET = config.env("SERVICE_CLIENT_SECRET")
# Rendered files (servicekit.storage): "local" = a folder (REPORTS_DIR, default VO2_DATA_DIR/reports); "s3" = the
# S3_BUCKET under S3_PREFIX (default "reports")/reports/<tenant>/ (S3_* settings: servicekit.storage).
REPORT_STORAGE = config.env("REPORT_STORAGE", "local")
REPORTS_DIR = config.env("REPORTS_DIR") or str(config.data_dir() / "reports")
# How an accepted request reaches the renderer (servicekit.jobs): "celery" (the service's queue), "inline" (in
# the web process after the commit), "none" (tests call the job).
REPORT_DISPATCH = config.env("REPORT_DISPATCH", "celery")
# A report request first asks measurements, with the caller's token, whether the caller sees the test (404 if not).
REPORT_CHECK_TEST = config.env_bool("REPORT_CHECK_TEST", True)
CELERY_QUEUE = config.env("REPORTS_QUEUE", "reports.tasks")
# Transient failures (measurements or identity unreachable) are retried this many times before the report fails.
REPORT_MAX_RETRIES = config.env_int("REPORT_MAX_RETRIES", 5)
EVENT_CONSUMERS = ["reports.consumers"]
# Periodic jobs (servicekit.periodic; one beat sends them, the worker runs them): name -> every N seconds.
PERIODIC_JOBS = {"reports.files.remove_of_deleted_tests": 3600.0, "events.prune": 3600.0,
                 "events.dead_letters": 300.0}
