"""Identity, as athletes ask it (we never read its database): is this user an athlete member of the tenant? An
athlete record's `user_id` links it to the person who may then read it, so it must name a member of the same
tenant with the athlete role. Asked with a service token for the tenant through the kit's client."""
from __future__ import annotations

from django.conf import settings

from servicekit import http, service_tokens
from servicekit.principal import ATHLETE
from servicekit.problems import ProblemError

client = http.ServiceClient("identity", lambda: settings.IDENTITY_URL, tokens=service_tokens.for_tenant,
                            timeout=lambda: settings.IDENTITY_TIMEOUT_S)


def is_athlete_member(tenant_id: str, user_id) -> bool:
    """True when `user_id` is an active member of the tenant with the athlete role. Identity answers 404 alike for
    another tenant's user and an unknown id, so nothing here can tell them apart. Identity unreachable (or refusing
this service): a 503
    problem (`identity-unavailable`, Retry-After), so that nothing is stored unchecked."""
    try:
        member = client.get(f"/api/v1/internal/members/{user_id}", tenant_id=str(tenant_id), missing_ok=True)
    except http.ServiceError as exc:  # unreachable, or refusing our service token: a fault of the platform, not of the data
        raise ProblemError(503, "identity-unavailable",
                           "The user directory cannot be asked now, so user_id cannot be checked; nothing was stored. "
                           "Try again shortly.", headers={"Retry-After": "5"}) from exc
    return isinstance(member, dict) and member.get("role") == ATHLETE
