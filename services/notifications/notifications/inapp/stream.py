"""GET /api/v1/notifications/stream: the caller's new notifications as Server-Sent Events.

Each stream polls the notification table for the caller's rows newer than the last one sent (every
NOTIFICATION_STREAM_POLL_SECONDS): the same in every mode, across web workers and replicas, and the event id (the
row's creation time in microseconds and its id) makes a reconnect with Last-Event-ID resume without a gap. A comment
line every NOTIFICATION_STREAM_HEARTBEAT_SECONDS keeps proxies (and the gateway's per-read timeout) from closing it;
after NOTIFICATION_STREAM_MAX_SECONDS the server ends the stream and the client reconnects (EventSource does, with
Last-Event-ID), which frees the web thread it held. Not built yet: fan-out through Redis instead of polling, and
import/report progress events."""
from __future__ import annotations

import datetime as dt
import json
import time

from django.conf import settings
from django.db import close_old_connections, transaction
from django.http import StreamingHttpResponse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.views import APIView

from servicekit.django.drf import principal_of
from servicekit.tenancy import tenant_transaction

from .api import NotificationSerializer
from .models import Notification

BATCH = 100


class EventStreamRenderer(BaseRenderer):
    media_type = "text/event-stream"
    format = "sse"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


def event_id(n: Notification) -> str:
    micros = int(n.created_at.timestamp() * 1_000_000)
    return f"{micros}-{n.id}"


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


def _after(tenant_id: str, user_id: str, last) -> list[Notification]:
    with tenant_transaction(tenant_id):
        rows = Notification.objects.filter(user_id=user_id)
        if last is not None:
            when, ident = last
            rows = rows.filter(created_at__gte=when)
            found = [n for n in rows.order_by("created_at", "id")[: BATCH + 50]
                     if (n.created_at, str(n.id)) > (when, ident)]
            return found[:BATCH]
        return []


def frames(tenant_id: str, user_id: str, last):
    """The stream's text: `retry`, then `id/event/data` per notification, comments as heartbeats."""
    if last is None:  # a new stream starts from now: what is already there is in the list endpoint
        with tenant_transaction(tenant_id):
            newest = Notification.objects.filter(user_id=user_id).order_by("-created_at", "-id").first()
        last = (newest.created_at, str(newest.id)) if newest else (dt.datetime.now(dt.timezone.utc), "")
    yield "retry: 2000\n: connected\n\n"
    started = beat = time.monotonic()
    poll = settings.NOTIFICATION_STREAM_POLL_SECONDS
    try:
        while time.monotonic() - started < settings.NOTIFICATION_STREAM_MAX_SECONDS:
            for n in _after(tenant_id, user_id, last):
                data = json.dumps(NotificationSerializer(n).data, default=str, ensure_ascii=False)
                yield f"id: {event_id(n)}\nevent: notification\ndata: {data}\n\n"
                last = (n.created_at, str(n.id))
                beat = time.monotonic()
            close_old_connections()
            if time.monotonic() - beat >= settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS:
                yield ": heartbeat\n\n"
                beat = time.monotonic()
            time.sleep(poll)
    finally:
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
        last = parse_event_id(request.headers.get("Last-Event-ID"))
        response = StreamingHttpResponse(frames(principal.tenant_id, principal.user_id, last),
                                         content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache, no-store"
        response["X-Accel-Buffering"] = "no"  # nginx and the like: pass each event on at once
        return response
