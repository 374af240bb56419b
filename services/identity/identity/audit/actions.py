"""Writes to the audit log: one function, called by the other apps' actions."""
from __future__ import annotations

from servicekit.principal import Principal
from servicekit.requestid import current_request_id

from .models import AuditEvent

Kind = AuditEvent.Kind


def actor_of(by: Principal | None) -> str:
    return by.user_id if by else "system"


# Who a user's tenants are (registered by accounts, which this layer may not import): an event about a user that
# names no tenant (a failed login, a lockout, a wrong second-factor code, a deactivation) goes to the audit log of
# every tenant the user belongs to, so each tenant's managers see what happens to their members' accounts.
_tenants_of_user = None


def tenants_of_user(resolver):
    global _tenants_of_user
    _tenants_of_user = resolver
    return resolver


def record(kind: str, *, tenant_id=None, by: Principal | None = None, actor: str | None = None,
           subject_user_id=None, **data) -> AuditEvent:
    """Never given a password, a token or an unverified e-mail: `data` holds ids, roles and reasons only."""
    fields = dict(kind=kind, actor=actor if actor is not None else actor_of(by), subject_user_id=subject_user_id,
                  data=data, request_id=current_request_id() or "")
    if tenant_id is None and subject_user_id is not None and _tenants_of_user is not None:
        tenants = list(_tenants_of_user(subject_user_id))
        if tenants:
            rows = [AuditEvent.objects.create(tenant_id=t, **fields) for t in tenants]
            return rows[0]
    return AuditEvent.objects.create(tenant_id=tenant_id, **fields)
