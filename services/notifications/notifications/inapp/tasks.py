"""Background jobs of in-app notifications: retention (a periodic job: settings.PERIODIC_JOBS, sent by the beat)."""
from django.conf import settings

from servicekit import periodic

from . import actions


@periodic.job("notifications.inapp.remove_old")
def remove_old() -> int:
    """Notifications older than NOTIFICATION_RETENTION_DAYS are removed."""
    return actions.remove_older_than(settings.NOTIFICATION_RETENTION_DAYS)
