"""identity's periodic job on invitations (sent by identity's beat: settings.PERIODIC_JOBS)."""
from django.conf import settings

from servicekit import periodic

from . import actions


@periodic.job("identity.invitations.remove_expired")
def remove_expired() -> int:
    return actions.remove_expired_invitations(settings.EXPIRED_INVITATIONS_KEEP_DAYS)
