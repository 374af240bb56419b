"""The notifications Celery app: the kit's factory (`celery -A notifications.celery worker -Q notifications.tasks`)."""
from servicekit.celery import make_celery

app = make_celery("notifications")

# periodic work: each worker runs it on a timer (notifications.tasks); or a beat (`celery -A notifications.celery
# beat`) with NOTIFICATIONS_PERIODIC_IN_WORKER=false
from django.conf import settings  # noqa: E402  (the factory set Django up)

app.conf.beat_schedule = {
    "webhooks-sweep": {"task": "notifications.webhooks.sweep", "schedule": settings.WEBHOOK_SWEEP_SECONDS},
    "notifications-retention": {"task": "notifications.inapp.remove_old", "schedule": 3600.0},
}
