"""Open streams do not hold the web server's request threads (notifications.asgi, inapp.live): the service's own
ASGI application on a real uvicorn server with a pool of only 4 request threads serves 24 open streams and its
other routes at the same time; each stream gets the user's new notification, resumes after Last-Event-ID, beats
and ends after its maximum; a stream without a token is a 401 problem, as before. (Before, on waitress's 8 or
gunicorn's 2×4 threads, 8 open streams left nothing for the other routes.)"""
from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from django.db import connections

from servicekit import testing
from servicekit.tenancy import tenant_transaction

from notifications.asgi import make_application
from notifications.inapp import fanout
from notifications.inapp.actions import notify

pytestmark = pytest.mark.django_db(transaction=True)
THREADS, STREAMS = 4, 24


@pytest.fixture
def server(settings):
    settings.NOTIFICATION_STREAM_FANOUT = "local"       # server, test and writer share this process
    settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS = 0.5
    settings.NOTIFICATION_STREAM_MAX_SECONDS = 30
    db = connections.settings["default"]
    kept, db["CONN_MAX_AGE"] = db.get("CONN_MAX_AGE"), 0  # the server's threads close theirs after each request
    port = testing.free_port()
    running = uvicorn.Server(uvicorn.Config(make_application(THREADS), host="127.0.0.1", port=port,
                                            lifespan="off", log_level="warning", access_log=False))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    settings.NOTIFICATION_STREAM_MAX_SECONDS = 0  # every open stream ends now, and the server with them
    fanout.hub.wake_all()
    running.should_exit = True
    thread.join(15)
    db["CONN_MAX_AGE"] = kept


def token_of(member) -> dict:
    return {"Authorization": member.client._credentials["HTTP_AUTHORIZATION"]}


class Stream:
    """One open stream in a thread of the test: its frames as they arrive."""

    def __init__(self, url, headers):
        self.frames: list[str] = []
        self.status = None
        self.opened = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self.thread.start()

    def _read(self, url, headers):
        try:
            with httpx.stream("GET", url + "/api/v1/notifications/stream", headers=headers,
                              timeout=httpx.Timeout(60, connect=10)) as response:
                self.status = response.status_code
                self.content_type = response.headers.get("content-type", "")
                self.headers = response.headers
                self.opened.set()
                buffer = ""
                for text in response.iter_text():
                    buffer += text
                    while "\n\n" in buffer:
                        frame, buffer = buffer.split("\n\n", 1)
                        self.frames.append(frame)
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.done.set()

    def notifications(self):
        found = []
        for frame in self.frames:
            lines = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line and
                         not line.startswith(":"))
            if lines.get("event") == "notification":
                found.append((lines["id"], json.loads(lines["data"])))
        return found


def test_many_open_streams_leave_the_other_routes_answering(server, caller, tenant_a):
    members = [caller(tenant_a, "physiologist") for _ in range(STREAMS)]
    streams = [Stream(server, token_of(m)) for m in members]
    assert all(s.opened.wait(30) for s in streams)
    wait_until(lambda: all(s.frames and s.frames[0].startswith("retry: 2000") for s in streams), "every stream open")
    assert {s.status for s in streams} == {200}
    assert all(s.content_type.startswith("text/event-stream") for s in streams)
    assert all("x-vo2-stream-ticket" not in s.headers and s.headers.get("x-accel-buffering") == "no"
               for s in streams)

    # with 24 streams open on 4 request threads, the other routes answer, many at once
    def other_routes(member):
        with httpx.Client(base_url=server, headers=token_of(member), timeout=20) as client:
            return (client.get("/api/v1/notifications/unread-count").status_code,
                    client.get("/api/v1/notifications/preferences").status_code,
                    client.get("/healthz").status_code)

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(other_routes, members))
    assert answers == [(200, 200, 200)] * STREAMS
    assert all(not s.done.is_set() for s in streams)  # ... while every stream is still open

    # each stream still gets its own user's new notification, and only that
    for i, member in enumerate(members):
        with tenant_transaction(tenant_a):
            notify(tenant_id=tenant_a, user_id=member.user_id, kind="report.ready", title=f"for {i}")
    wait_until(lambda: all(len(s.notifications()) == 1 for s in streams), "one notification on each stream")
    assert [s.notifications()[0][1]["title"] for s in streams] == [f"for {i}" for i in range(STREAMS)]
    wait_until(lambda: all(any(f == ": heartbeat" for f in s.frames) for s in streams), "heartbeats")


def test_the_event_loop_stream_resumes_after_last_event_id_and_ends_for_a_reconnect(server, settings, caller,
                                                                                 tenant_a, client):
    me = caller(tenant_a, "viewer")
    first = Stream(server, token_of(me))
    wait_until(lambda: first.frames, "the stream open")
    for title in ("one", "two"):
        with tenant_transaction(tenant_a):
            notify(tenant_id=tenant_a, user_id=me.user_id, kind="report.ready", title=title)
    wait_until(lambda: len(first.notifications()) == 2, "both notifications")
    (one_id, one), (two_id, two) = first.notifications()
    assert [one["title"], two["title"]] == ["one", "two"] and one_id < two_id
    settings.NOTIFICATION_STREAM_MAX_SECONDS = 1.0
    again = Stream(server, {**token_of(me), "Last-Event-ID": one_id})
    assert again.done.wait(20), "the stream did not end after its maximum"
    assert again.notifications() == [(two_id, two)]  # resumed after the first: nothing lost, nothing twice
    refused = httpx.get(server + "/api/v1/notifications/stream", timeout=10)
    assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/problem+json")
    forged = Stream(server, {"X-Vo2-Stream-Handoff": "1"})  # the offer is the server's, a client's counts for nothing
    assert forged.done.wait(20) and forged.status == 401


def wait_until(predicate, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
