"""Writes for API keys: create (the secret is shown once), revoke, and the gateway's exchange of a key for a
short-lived access token. A key's calls carry `sub` = the key's id and the claim `api_key` (its prefix), so every
service records them as the key's."""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from servicekit.principal import ADMIN, PHYSIOLOGIST, VIEWER, Principal
from servicekit.problems import ProblemError

from ..audit import actions as audit
from ..tenants import plans
from ..tenants.models import Tenant
from ..tokens import auth as token_auth, crypto
from ..tokens.actions import issue_access_token
from . import queries
from .models import ApiKey

Kind = audit.Kind
SECRET_PREFIX = "vo2_"
PREFIX_LENGTH = 12  # "vo2_" + 8 characters: enough to recognise a key, far too little to guess it
# Never owner (a key must not manage owners or be the last owner's stand-in); never athlete (a key is no person).
KEY_ROLES = (ADMIN, PHYSIOLOGIST, VIEWER)
CLAIM = "api_key"


class ApiKeyRefused(ProblemError):
    """One answer for an unknown, revoked or expired key."""

    def __init__(self):
        super().__init__(401, "invalid-api-key", "The API key is unknown, revoked or expired.")


def create_key(*, by: Principal, name: str, role: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key for the caller's tenant and its secret (returned once, never stored)."""
    if role not in KEY_ROLES:
        raise ProblemError(400, "validation-error", f"role: an API key's role is one of {', '.join(KEY_ROLES)}",
                           errors=[{"field": "role", "detail": f"one of {', '.join(KEY_ROLES)}"}])
    if expires_at is not None and expires_at <= timezone.now():
        raise ProblemError(400, "validation-error", "expires_at: must be in the future",
                           errors=[{"field": "expires_at", "detail": "must be in the future"}])
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().filter(id=by.tenant_id).first()  # serialises the quota count
        plans.require_room(tenant, plans.API_KEYS, queries.live_keys(by.tenant_id).count())
        raw = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey.objects.create(tenant_id=by.tenant_id, name=name, role=role, prefix=raw[:PREFIX_LENGTH],
                                    secret_hash=crypto.token_hash(raw), created_by=audit.actor_of(by),
                                    expires_at=expires_at)
        audit.record(Kind.API_KEY_CREATED, tenant_id=by.tenant_id, by=by, api_key_id=str(key.id),
                     prefix=key.prefix, role=role)
    return key, raw


def revoke_key(key: ApiKey, *, by: Principal) -> ApiKey:
    """Revoked at once in identity; the gateway stops accepting it within its cache time (at most 60 s)."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(Kind.API_KEY_REVOKED, tenant_id=key.tenant_id, by=by, api_key_id=str(key.id), prefix=key.prefix)
    return key


def _client_is_allowed(client_id: str, client_secret: str) -> bool:
    expected = settings.SERVICE_CLIENTS.get(client_id) if client_id in settings.API_KEY_CLIENTS else None
    matches = hmac.compare_digest((client_secret or "").encode(), (expected or secrets.token_hex(32)).encode())
    return expected is not None and matches


def exchange(*, client_id: str, client_secret: str, api_key: str) -> dict:
    """The gateway (a service client named in API_KEY_CLIENTS) trades a key for a short-lived access token acting
    as the key: sub = the key's id, roles = [the key's role], claim `api_key` = its prefix."""
    if not _client_is_allowed(client_id, client_secret):
        raise ProblemError(401, "invalid-client", "Unknown client or wrong secret.")
    now = timezone.now()
    key = queries.key_by_hash(crypto.token_hash(api_key or ""))
    if not queries.is_live(key, now):
        if key is not None:
            audit.record(Kind.API_KEY_REFUSED, tenant_id=key.tenant_id, actor=f"api_key:{key.id}",
                         api_key_id=str(key.id), reason="revoked" if key.revoked_at else "expired")
        raise ApiKeyRefused()
    lifetime = settings.API_KEY_TOKEN_SECONDS
    if key.expires_at is not None:
        lifetime = max(1, min(lifetime, int((key.expires_at - now).total_seconds())))
    access, expires_in = issue_access_token(sub=key.id, tenant_id=key.tenant_id, roles=[key.role],
                                            lifetime=lifetime, extra={CLAIM: key.prefix})
    ApiKey.objects.filter(id=key.id).update(last_used_at=now)
    audit.record(Kind.API_KEY_USED, tenant_id=key.tenant_id, actor=f"api_key:{key.id}", api_key_id=str(key.id),
                 prefix=key.prefix, client=client_id)
    return {"access": access, "token_type": "Bearer", "expires_in": expires_in}


@token_auth.honour_subject(CLAIM)
def key_token_is_current(principal: Principal) -> bool:
    """Identity itself refuses a revoked key's token at once (other services within its short life)."""
    key = queries.key_by_id(principal.user_id)
    return queries.is_live(key) and str(key.tenant_id) == str(principal.tenant_id) \
        and principal.roles == frozenset({key.role})
