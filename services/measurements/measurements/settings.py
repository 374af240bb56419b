"""measurements: athletes, exercise tests, samples, lactate steps, imports, stored results and overrides."""
from pathlib import Path

from servicekit import config
from servicekit.django.settings import build

globals().update(build(
    "measurements",
    apps=["measurements.athletes", "measurements.exercise_tests", "measurements.imports", "measurements.results",
          "measurements.exports", "measurements.erasure"],
    urlconf="measurements.urls",
    title="VO2max Report — measurements",
    description="Athletes, exercise tests, samples, imports and stored analysis results.",
))

# Uploads: refused early above this size (Content-Length, then counted by the upload handler).
MAX_UPLOAD_BYTES = config.env_int("MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
# Where uploaded exports are kept so that an import can be re-run (VO2_DATA_DIR/uploads/<tenant>/<import>/...).
UPLOADS_DIR = config.env("UPLOADS_DIR") or str(config.data_dir() / "uploads")
# The kind of file store (servicekit.storage): "local" folders, or "s3": the S3_BUCKET under
# S3_PREFIX (default "measurements")/uploads/<tenant>/<import>/ (S3_* settings: servicekit.storage).
FILE_STORAGE = config.env("FILE_STORAGE", "local")
# The analysis service and identity (service tokens, client credentials).
ANALYSIS_URL = config.env("ANALYSIS_URL", "http://127.0.0.1:8003")
ANALYSIS_TIMEOUT_S = float(config.env("ANALYSIS_TIMEOUT_S", "60"))
IDENTITY_URL = config.env("IDENTITY_URL", "http://127.0.0.1:8001")
IDENTITY_TIMEOUT_S = float(config.env("IDENTITY_TIMEOUT_S", "5"))  # the athlete user_id check, inside a request
SERVICE_CLIENT_ID = config.env("SERVICE_CLIENT_ID", "measurements")
SERVICE_CLIENT_SECRET = config.env("SERVICE_CLIENT_SECRET")
# How an accepted upload reaches the pipeline: "celery" (the service's own queue), "inline" (after the request's
# commit, in the web process: tests and a single-process lab), "none" (someone calls run_import).
IMPORT_DISPATCH = config.env("IMPORT_DISPATCH", "celery")
CELERY_QUEUE = config.env("MEASUREMENTS_QUEUE", "measurements.tasks")
# A change of VO2max between two tests of the same modality larger than this (in %) is flagged as meaningful.
PROGRESS_MEANINGFUL_CHANGE_PCT = float(config.env("PROGRESS_MEANINGFUL_CHANGE_PCT", "5.0"))
# The reports service (an athlete's export gathers its report files, with a service token).
REPORTS_URL = config.env("REPORTS_URL", "http://127.0.0.1:8004")
REPORTS_TIMEOUT_S = float(config.env("REPORTS_TIMEOUT_S", "30"))
# Athlete exports: the ZIPs' store, how a requested export reaches its job (as IMPORT_DISPATCH), how long it stays.
# (beside the uploads by default: the same shared volume in compose and Kubernetes)
EXPORTS_DIR = config.env("EXPORTS_DIR") or str(Path(UPLOADS_DIR) / "_exports")
EXPORT_DISPATCH = config.env("EXPORT_DISPATCH", "celery")
EXPORT_TTL_S = float(config.env("EXPORT_TTL_S", str(7 * 24 * 3600)))
# Deletions: the services that hold data about an athlete or a test and must confirm its erasure; a request none
# of them confirmed within DELETION_CONFIRM_WITHIN_S is sent again (then after doubling waits, at most hourly).
DELETION_CONFIRMERS = config.env_list("DELETION_CONFIRMERS", "reports,notifications")
DELETION_CONFIRM_WITHIN_S = float(config.env("DELETION_CONFIRM_WITHIN_S", "300"))
# Periodic work (re-sending deletion requests, removing expired exports): on a timer in every worker unless a beat
# runs it (measurements.celery's schedule).
MEASUREMENTS_PERIODIC_IN_WORKER = config.env_bool("MEASUREMENTS_PERIODIC_IN_WORKER", True)
MEASUREMENTS_PERIODIC_SECONDS = float(config.env("MEASUREMENTS_PERIODIC_SECONDS", "30"))
# Periodic jobs (servicekit.periodic; one beat sends them, the worker runs them): name -> every N seconds.
PERIODIC_JOBS = {"measurements.uploads.remove_expired": 3600.0, "events.prune": 3600.0}
