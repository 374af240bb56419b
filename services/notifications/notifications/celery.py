"""The notifications Celery app: the kit's factory (`celery -A notifications.celery worker -Q notifications.tasks`)."""
from servicekit.celery import make_celery

app = make_celery("notifications")
