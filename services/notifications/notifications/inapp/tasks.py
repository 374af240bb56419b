"""Background jobs of in-app notifications: retention (a periodic task in notifications.celery's beat schedule)."""
from django.conf import settings

from ..celery import app
from . import actions


@app.task(name="notifications.inapp.remove_old")
def remove_old() -> int:
    """Notifications older than NOTIFICATION_RETENTION_DAYS are removed."""
    return actions.remove_older_than(settings.NOTIFICATION_RETENTION_DAYS)
