"""Reads of the audit log."""
from __future__ import annotations

from servicekit.principal import Principal

from .models import AuditEvent


def tenant_events(principal: Principal):
    """The events of the caller's tenant only."""
    if not principal.tenant_id:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(tenant_id=principal.tenant_id)
