"""identity's periodic job on refresh tokens (sent by identity's beat: settings.PERIODIC_JOBS)."""
from django.conf import settings

from servicekit import periodic

from . import actions


@periodic.job("identity.refresh_tokens.remove_expired")
def remove_expired() -> int:
    return actions.remove_expired_refresh_tokens(settings.EXPIRED_TOKENS_KEEP_DAYS)
