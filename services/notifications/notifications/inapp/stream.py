"""GET /api/v1/notifications/stream: the caller's new notifications and the progress of their imports and reports,
as Server-Sent Events.

The tables are the record: a stream reads the caller's notification and progress rows newer than the last one it
sent, and the event id (the row's time in microseconds and its id) makes a reconnect with Last-Event-ID resume
without a gap (a progress row is the job's latest state, so a reconnect gets where it stands now). It reads when
woken (inapp.fanout: Redis pub/sub in SaaS, an in-process wake-up in local mode, after the commit that wrote the
row), at the latest every NOTIFICATION_STREAM_SAFETY_POLL_SECONDS, and every NOTIFICATION_STREAM_POLL_SECONDS while
wake-ups cannot reach it (Redis down). A comment line every NOTIFICATION_STREAM_HEARTBEAT_SECONDS keeps proxies
(and the gateway's per-read timeout) from closing it; after NOTIFICATION_STREAM_MAX_SECONDS the server ends the
stream and the client reconnects (EventSource does, with Last-Event-ID).

Served by notifications.asgi (uvicorn), the view only authenticates and answers the headers: the server offered to
write the body (HANDOFF_OFFER, a request header it sets itself) and the view hands it a ticket (HANDOFF_TICKET,
removed before the answer leaves), so the events are written on the server's event loop (inapp.live) and the
request thread is free at once. Under a plain WSGI server (or Django's test client) `frames()` below writes them
on the request's thread, as before.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.views import APIView

from servicekit.django.drf import principal_of
from servicekit.principal import acting_for_tenant
from servicekit.tenancy import tenant_transaction

from . import fanout
from .api import NotificationSerializer
from .models import Notification, Progress

BATCH = 100
HANDOFF_OFFER = "X-Vo2-Stream-Handoff"   # set by notifications.asgi only (it drops one a client sends)
HANDOFF_TICKET = "X-Vo2-Stream-Ticket"   # the view's answer to it; notifications.asgi removes it


class EventStreamRenderer(BaseRenderer):
    media_type = "text/event-stream"
    format = "sse"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


def event_id(row) -> str:
    micros = int(_when(row).timestamp() * 1_000_000)
    return f"{micros}-{row.id}"


def _when(row):
    return row.created_at if isinstance(row, Notification) else row.updated_at


def parse_event_id(value: str | None):
    """(created_at, id) of a Last-Event-ID, or None when absent or not one of ours."""
    if not value:
        return None
    micros, _, ident = value.partition("-")
    try:
        when = dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return when, ident


@contextmanager
def _reading(tenant_id: str):
    """A stream's read as the tenant. SQLite (local mode) has no row-level security to set, and its transactions
    begin IMMEDIATE (they take the one write lock, which the consumer and the webhook worker need): there the
    reads run outside a transaction, in the tenant's ORM scope (under WAL each sees committed rows only)."""
    if connection.vendor == "sqlite":
        with acting_for_tenant(tenant_id):
            yield
    else:
        with tenant_transaction(tenant_id):
            yield


def _after(tenant_id: str, user_id: str, last) -> list:
    """The caller's notifications and progress rows after `last`, in event-id order."""
    when, ident = last
    with _reading(tenant_id):
        found = []
        for rows, column in ((Notification.objects.filter(user_id=user_id, created_at__gte=when), "created_at"),
                             (Progress.objects.filter(user_id=user_id, updated_at__gte=when), "updated_at")):
            found += [r for r in rows.order_by(column, "id")[: BATCH + 50] if (_when(r), str(r.id)) > (when, ident)]
    found.sort(key=lambda r: (_when(r), str(r.id)))
    return found[:BATCH]


def progress_data(p: Progress) -> dict:
    return {"kind": p.subject, "id": str(p.subject_id), "status": p.status, "stage": p.stage,
            "progress": p.progress, **p.data, "updated_at": p.updated_at.isoformat()}


def frame(row) -> str:
    if isinstance(row, Notification):
        data, kind = NotificationSerializer(row).data, "notification"
    else:
        data, kind = progress_data(row), "progress"
    return f"id: {event_id(row)}\nevent: {kind}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n"


def _newest(tenant_id: str, user_id: str):
    with _reading(tenant_id):
        rows = [Notification.objects.filter(user_id=user_id).order_by("-created_at", "-id").first(),
                Progress.objects.filter(user_id=user_id).order_by("-updated_at", "-id").first()]
    marks = [(_when(r), str(r.id)) for r in rows if r is not None]
    return max(marks) if marks else (dt.datetime.now(dt.timezone.utc), "")


def frames(tenant_id: str, user_id: str, last):
    """The stream's text: `retry`, then `id/event/data` per row, comments as heartbeats."""
    waiter = fanout.hub.join(tenant_id, user_id)  # before the first read: a commit from now on wakes it
    try:
        if last is None:  # a new stream starts from now: what is already there is in the list endpoint
            last = _newest(tenant_id, user_id)
        yield "retry: 2000\n: connected\n\n"
        started = beat = time.monotonic()
        while time.monotonic() - started < settings.NOTIFICATION_STREAM_MAX_SECONDS:
            waiter.clear()
            for row in _after(tenant_id, user_id, last):
                yield frame(row)
                last = (_when(row), str(row.id))
                beat = time.monotonic()
            close_old_connections()
            if time.monotonic() - beat >= settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS:
                yield ": heartbeat\n\n"
                beat = time.monotonic()
            waiter.wait(settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS - (time.monotonic() - beat))
    finally:
        waiter.close()
        close_old_connections()


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class NotificationStream(APIView):
    """Server-Sent Events of the caller's new notifications (the token in the Authorization header)."""

    renderer_classes = [EventStreamRenderer, JSONRenderer]

    @extend_schema(parameters=[OpenApiParameter("Last-Event-ID", str, OpenApiParameter.HEADER, required=False,
                                                description="resume after this event id")],
                   responses={200: OpenApiResponse(description="text/event-stream of `notification` events")})
    def get(self, request):
        principal = principal_of(request)
        if request.headers.get(HANDOFF_OFFER) == "1":  # the server writes the body on its event loop
            response = HttpResponse(content_type="text/event-stream; charset=utf-8")
            response[HANDOFF_TICKET] = json.dumps({"tenant_id": str(principal.tenant_id),
                                                   "user_id": str(principal.user_id),
                                                   "last_event_id": request.headers.get("Last-Event-ID")})
        else:
            last = parse_event_id(request.headers.get("Last-Event-ID"))
            response = StreamingHttpResponse(frames(principal.tenant_id, principal.user_id, last),
                                             content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache, no-store"
        response["X-Accel-Buffering"] = "no"  # nginx and the like: pass each event on at once
        return response
