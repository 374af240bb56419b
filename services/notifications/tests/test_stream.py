"""The notification stream (SSE): the caller's new notifications with ids, resume after Last-Event-ID without a
gap, heartbeats, the stream ends after its maximum and the client reconnects; nobody else's notifications."""
from __future__ import annotations

import json
import uuid

import pytest

from servicekit.tenancy import tenant_transaction

from notifications.inapp.actions import notify

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick(settings):
    settings.NOTIFICATION_STREAM_POLL_SECONDS = 0.02
    settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS = 0.2
    settings.NOTIFICATION_STREAM_MAX_SECONDS = 2


def make(tenant, user, title):
    with tenant_transaction(tenant):
        return notify(tenant_id=tenant, user_id=user, kind="report.ready", title=title)


def events(frames, n):
    """The next n `notification` events (id, data), skipping comments."""
    found = []
    while len(found) < n:
        raw = next(frames)
        text = raw.decode() if isinstance(raw, bytes) else raw
        if text.startswith(":") or text.startswith("retry"):
            continue
        lines = dict(line.split(": ", 1) for line in text.strip().split("\n"))
        found.append((lines["id"], json.loads(lines["data"]), lines["event"]))
    return found


def test_new_notifications_stream_with_ids_and_resume_after_last_event_id(caller, tenant_a, tenant_b):
    me = caller(tenant_a, "viewer")
    make(tenant_a, me.user_id, "before")                          # already there: the list has it, not the stream
    response = me.get("/api/v1/notifications/stream", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"].startswith("no-cache") and response["X-Accel-Buffering"] == "no"
    frames = iter(response.streaming_content)
    assert next(frames).decode().startswith("retry: 2000")
    make(tenant_a, me.user_id, "first")
    make(tenant_a, str(uuid.uuid4()), "a colleague's")
    make(tenant_b, me.user_id, "same user id, other tenant")
    make(tenant_a, me.user_id, "second")
    (first_id, first, kind), (second_id, second, _) = events(frames, 2)
    assert kind == "notification" and [first["title"], second["title"]] == ["first", "second"]
    assert first_id < second_id
    response.close()
    # a reconnect after the first resumes with the second: nothing lost, nothing twice
    again = me.get("/api/v1/notifications/stream", HTTP_LAST_EVENT_ID=first_id)
    [(resumed_id, resumed, _)] = events(iter(again.streaming_content), 1)
    assert resumed_id == second_id and resumed["title"] == "second"
    again.close()


def test_heartbeats_then_the_stream_ends_for_a_reconnect(caller, tenant_a):
    me = caller(tenant_a, "athlete")
    response = me.get("/api/v1/notifications/stream")
    assert response.status_code == 200
    frames = [f.decode() for f in response.streaming_content]        # ends after NOTIFICATION_STREAM_MAX_SECONDS
    assert frames[0].startswith("retry: 2000")
    assert sum(1 for f in frames if f == ": heartbeat\n\n") >= 3


def test_no_token_is_401_and_a_bad_last_event_id_starts_from_now(client, caller, tenant_a):
    assert client.get("/api/v1/notifications/stream").status_code == 401
    me = caller(tenant_a)
    make(tenant_a, me.user_id, "old")
    response = me.get("/api/v1/notifications/stream", HTTP_LAST_EVENT_ID="not-an-id")
    frames = iter(response.streaming_content)
    next(frames)
    make(tenant_a, me.user_id, "new")
    [(_, data, _)] = events(frames, 1)
    assert data["title"] == "new"
    response.close()
