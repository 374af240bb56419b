"""Writes to the audit log: one function, called by the other apps' actions."""
from __future__ import annotations

from servicekit.principal import Principal
from servicekit.requestid import current_request_id

from .models import AuditEvent

Kind = AuditEvent.Kind


def actor_of(by: Principal | None) -> str:
    return by.user_id if by else "system"


def record(kind: str, *, tenant_id=None, by: Principal | None = None, actor: str | None = None,
           subject_user_id=None, **data) -> AuditEvent:
    """Never given a password, a token or an unverified e-mail: `data` holds ids, roles and reasons only."""
    return AuditEvent.objects.create(
        kind=kind, tenant_id=tenant_id, actor=actor if actor is not None else actor_of(by),
        subject_user_id=subject_user_id, data=data, request_id=current_request_id() or "")
