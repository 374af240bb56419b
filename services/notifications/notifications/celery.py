"""The notifications Celery app: `celery -A notifications.celery worker -Q notifications.tasks`."""
from servicekit.celery import make_celery

app = make_celery("notifications", django_settings="notifications.settings", include=["notifications.mail.tasks"])
