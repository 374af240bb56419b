"""notifications: in-app notifications, e-mail, signed webhooks, delivery logs."""
from servicekit import config
from servicekit.django.settings import build

globals().update(build(
    "notifications",
    apps=["notifications.directory", "notifications.preferences", "notifications.inapp", "notifications.mail",
          "notifications.webhooks", "notifications.erasure"],
    urlconf="notifications.urls",
    title="VO2max Report — notifications",
    description="In-app notifications, e-mail and signed webhooks.",
))

EVENT_CONSUMERS = ["notifications.consumers"]
# the consumer takes up to this many events at a time, a tenant's in one transaction (servicekit.events.consumer);
# with no backlog a batch is one event, under one the queries per event fall. 1: one at a time.
EVENTS_BATCH_SIZE = config.env_int("EVENTS_BATCH_SIZE", 50)
EVENTS_BATCH_PREPARE = "notifications.consumers.prepare_batch"
CELERY_QUEUE = config.env("NOTIFICATIONS_QUEUE", "notifications.tasks")  # e-mail and webhook deliveries
# the worker's threads (notifications.celery: a threads pool; deliveries wait on receivers, not on the CPU); fewer
# in local mode, where every write waits for SQLite's one write lock
WORKER_THREADS = config.env_int("NOTIFICATIONS_WORKER_THREADS", 4 if config.is_local() else 16)
# the lab's managers hear of every event a consumer gave up on (servicekit.events.consumer: dead-letter watch)
EVENTS_DEAD_LETTER_HANDLER = "notifications.consumers.dead_lettered"
EVENTS_DEAD_LETTER_WATCH = config.env_list("EVENTS_DEAD_LETTER_WATCH", "identity,measurements,reports,notifications")

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

# Webhooks (notifications.webhooks). SaaS rules (https, public addresses only) on by default outside local mode.
WEBHOOK_PUBLIC_ONLY = config.env_bool("WEBHOOK_PUBLIC_ONLY", not config.is_local())
WEBHOOK_TIMEOUT_SECONDS = float(config.env("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_MAX_IN_FLIGHT = config.env_int("WEBHOOK_MAX_IN_FLIGHT", 2)  # concurrent requests to one endpoint
# seconds before each retry (Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h ≈ 27.6 h), ±20 %
# jitter; when they run out the delivery fails and its endpoint is disabled
WEBHOOK_RETRY_SCHEDULE = [float(s) for s in config.env_list("WEBHOOK_RETRY_SCHEDULE",
                                                              "5,300,1800,7200,18000,36000,36000")]
WEBHOOK_SECRET_OVERLAP_SECONDS = config.env_int("WEBHOOK_SECRET_OVERLAP_SECONDS", 24 * 3600)
# a retry further away than this waits in the table for the sweep (a broker should not hold hours-long ETAs)
WEBHOOK_MAX_COUNTDOWN_SECONDS = float(config.env("WEBHOOK_MAX_COUNTDOWN_SECONDS", "600"))
WEBHOOK_DISPATCH = config.env("WEBHOOK_DISPATCH", "celery")
# how long after its due time (or its lease) an unfinished delivery waits for its task before the sweep queues it
WEBHOOK_PICKUP_GRACE_SECONDS = float(config.env("WEBHOOK_PICKUP_GRACE_SECONDS", "60"))

# links in notifications name the public URL (the gateway's), as identity's invitation links do
PUBLIC_APP_URL = (config.env("PUBLIC_APP_URL", "http://127.0.0.1:8000") or "http://127.0.0.1:8000").rstrip("/")
NOTIFICATION_RETENTION_DAYS = config.env_int("NOTIFICATION_RETENTION_DAYS", 180)
WEBHOOK_SWEEP_SECONDS = float(config.env("WEBHOOK_SWEEP_SECONDS", "30"))
# streams are woken after the commit that wrote their rows (notifications.inapp.fanout): Redis pub/sub in SaaS, in
# the process in local mode; `poll` reads the table every POLL_SECONDS (as every stream does while Redis is down)
NOTIFICATION_STREAM_FANOUT = config.env("NOTIFICATION_STREAM_FANOUT",
                                        "local" if config.is_local() else ("redis" if REDIS_URL else "poll"))
NOTIFICATION_STREAM_POLL_SECONDS = float(config.env("NOTIFICATION_STREAM_POLL_SECONDS", "0.25"))
NOTIFICATION_STREAM_SAFETY_POLL_SECONDS = float(config.env("NOTIFICATION_STREAM_SAFETY_POLL_SECONDS", "5"))
NOTIFICATION_STREAM_HEARTBEAT_SECONDS = float(config.env("NOTIFICATION_STREAM_HEARTBEAT_SECONDS", "15"))
NOTIFICATION_STREAM_MAX_SECONDS = float(config.env("NOTIFICATION_STREAM_MAX_SECONDS", "300"))
# threads that read the tables for the streams served on the event loop (notifications.asgi, inapp.live)
NOTIFICATION_STREAM_DB_THREADS = config.env_int("NOTIFICATION_STREAM_DB_THREADS", 4)
# Periodic jobs (servicekit.periodic; one beat sends them, the worker runs them): name -> every N seconds.
PERIODIC_JOBS = {"notifications.webhooks.sweep": WEBHOOK_SWEEP_SECONDS, "notifications.inapp.remove_old": 3600.0,
                 "events.prune": 3600.0, "events.dead_letters": 300.0}
