"""publish(): the event joins the caller's transaction (a rolled-back change publishes nothing)."""
from __future__ import annotations

import json

from django.conf import settings
from django.db import connections

from .. import tracing
from ..tenancy import database_alias_for
from . import envelope
from .models import OutboxEvent


class NotInTransaction(RuntimeError):
    pass


def source() -> str:
    return f"/vo2max/{getattr(settings, 'SERVICE_NAME', 'unknown')}"


def publish(event_type: str, data: dict, *, tenant_id, subject: str | None = None, version: int | None = None,
            using: str | None = None) -> str:
    alias = using or database_alias_for(str(tenant_id) if tenant_id else None)
    if not connections[alias].in_atomic_block:
        raise NotInTransaction("publish() writes to the outbox in the caller's transaction: call it inside "
                               "transaction.atomic() (a request already is one)")
    # a producer span of the current trace: the event's consumers continue from it (the envelope's traceparent)
    with tracing.span(f"publish {event_type}", "producer",
                      attributes={"messaging.destination.name": event_type, "messaging.operation.name": "publish"}):
        env = envelope.make(event_type, data, source=source(), tenant_id=tenant_id, subject=subject, version=version,
                            traceparent=tracing.traceparent())
        OutboxEvent.objects.using(alias).create(event_id=env["id"], type=event_type, tenant_id=env["tenantid"],
                                                body=json.dumps(env, separators=(",", ":"), ensure_ascii=False))
    return env["id"]
