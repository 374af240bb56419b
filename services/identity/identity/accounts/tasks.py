"""identity's periodic job on password-reset tokens (sent by identity's beat: settings.PERIODIC_JOBS)."""
from django.conf import settings

from servicekit import periodic

from . import actions


@periodic.job("identity.password_resets.remove_expired")
def remove_expired() -> int:
    return actions.remove_expired_password_resets(settings.EXPIRED_TOKENS_KEEP_DAYS)
