"""The notifications Celery app: the kit's factory (`celery -A notifications.celery worker -Q notifications.tasks`).
Its periodic jobs (webhook sweep, retention, the kit's) are in settings.PERIODIC_JOBS, sent by
`celery -A notifications.celery beat` (servicekit.periodic)."""
from servicekit.celery import make_celery

app = make_celery("notifications")
