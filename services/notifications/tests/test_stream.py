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


# ---- wake-ups instead of polling (notifications.inapp.fanout) --------------------------------------------------------

@pytest.fixture
def own_hub(monkeypatch):
    """A hub of this test's own (the process's one keeps a subscriber thread and a Redis client)."""
    from notifications.inapp import fanout

    hub = fanout.Hub()
    monkeypatch.setattr(fanout, "hub", hub)
    return hub


def test_a_commit_wakes_the_stream_without_polling(settings, caller, tenant_a, own_hub):
    """Polling is set far beyond the stream's life: a notification reaches it only through the wake-up sent after
    its commit (Redis pub/sub on PostgreSQL/SaaS, in-process in local mode)."""
    settings.NOTIFICATION_STREAM_POLL_SECONDS = settings.NOTIFICATION_STREAM_SAFETY_POLL_SECONDS = 3600
    settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS = 3600
    settings.NOTIFICATION_STREAM_MAX_SECONDS = 20
    assert settings.NOTIFICATION_STREAM_FANOUT == ("local" if settings.DATABASES["default"]["ENGINE"].endswith(
        "sqlite3") else "redis")
    me = caller(tenant_a, "physiologist")
    response = me.get("/api/v1/notifications/stream")
    frames = iter(response.streaming_content)
    next(frames)
    if settings.NOTIFICATION_STREAM_FANOUT == "redis":
        import time

        deadline = time.monotonic() + 10
        while not own_hub.live() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert own_hub.live(), "the Redis subscriber did not confirm its subscription"
    make(tenant_a, me.user_id, "woken")
    [(_, data, kind)] = events(frames, 1)
    assert kind == "notification" and data["title"] == "woken"
    response.close()


def test_redis_down_the_stream_polls_and_wakes_again_when_redis_is_back(settings, caller, tenant_a, own_hub,
                                                                        tmp_path):
    """A private Redis (never the shared one) is stopped under a live stream: the stream keeps sending by polling
    the table; started again, the subscriber reconnects and wake-ups carry it once more."""
    import shutil
    import subprocess
    import time

    from servicekit import testing

    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed for the Redis outage test (apt: redis-server)")
    port = testing.free_port()

    def start_redis():
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import redis

                redis.Redis(port=port).ping()
                return proc
            except Exception:
                time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    redis_proc = start_redis()
    settings.NOTIFICATION_STREAM_FANOUT = "redis"
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    settings.NOTIFICATION_STREAM_POLL_SECONDS = 0.05
    settings.NOTIFICATION_STREAM_SAFETY_POLL_SECONDS = settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS = 3600
    settings.NOTIFICATION_STREAM_MAX_SECONDS = 60
    me = caller(tenant_a, "physiologist")
    try:
        response = me.get("/api/v1/notifications/stream")
        frames = iter(response.streaming_content)
        next(frames)

        def until(condition, what):
            deadline = time.monotonic() + 15
            while not condition():
                assert time.monotonic() < deadline, what
                time.sleep(0.02)

        until(own_hub.live, "subscribed")
        make(tenant_a, me.user_id, "through redis")
        assert [d["title"] for _, d, _ in events(frames, 1)] == ["through redis"]
        redis_proc.terminate()
        redis_proc.wait(10)
        until(lambda: not own_hub.live(), "the hub noticed Redis is gone")
        make(tenant_a, me.user_id, "while redis is down")              # its PUBLISH fails: logged, the poll sends it
        assert [d["title"] for _, d, _ in events(frames, 1)] == ["while redis is down"]
        redis_proc = start_redis()
        until(own_hub.live, "subscribed again")
        settings.NOTIFICATION_STREAM_POLL_SECONDS = 3600                # from here only a wake-up can deliver
        own_hub.wake_all()                                               # the stream's current wait ends
        make(tenant_a, me.user_id, "redis is back")
        assert [d["title"] for _, d, _ in events(frames, 1)] == ["redis is back"]
        response.close()
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)


def test_progress_of_imports_and_reports_on_the_stream(settings, caller, tenant_a, tenant_b):
    """Progress rows (from measurements' and reports' progress events) stream as `event: progress`, the latest state
    per job; a late or repeated step never moves it back; a reconnect resumes after Last-Event-ID."""
    from notifications.inapp.actions import record_progress

    settings.NOTIFICATION_STREAM_MAX_SECONDS = 20
    me = caller(tenant_a, "physiologist")
    response = me.get("/api/v1/notifications/stream")
    frames = iter(response.streaming_content)
    next(frames)
    imp, report = str(uuid.uuid4()), str(uuid.uuid4())

    def step(subject, subject_id, status, stage, progress, generation=1, user=None, tenant=tenant_a):
        with tenant_transaction(tenant):
            record_progress(tenant_id=tenant, user_id=user or me.user_id, subject=subject, subject_id=subject_id,
                            status=status, stage=stage, progress=progress, generation=generation)

    step("import", str(uuid.uuid4()), "running", "parsing", 10, tenant=tenant_b)  # same user id, other tenant
    step("import", imp, "running", "parsing", 10)
    first = events(frames, 1)[0]
    step("import", imp, "running", "storing", 40)
    step("import", str(uuid.uuid4()), "running", "parsing", 10, user=str(uuid.uuid4()))  # a colleague's
    second = events(frames, 1)[0]
    step("report", report, "running", "rendering", 10)
    third = events(frames, 1)[0]
    assert [(e[2], e[1]["kind"], e[1]["stage"], e[1]["progress"]) for e in (first, second, third)] == [
        ("progress", "import", "parsing", 10), ("progress", "import", "storing", 40),
        ("progress", "report", "rendering", 10)]
    assert first[1]["id"] == imp and third[1]["id"] == report and first[0] < second[0] < third[0]
    step("import", imp, "running", "parsing", 10)                        # a late step: ignored
    step("import", imp, "done", "", 100)
    step("import", imp, "running", "analyzing", 70)                       # after done, same run: ignored
    [(done_id, done, _)] = events(frames, 1)
    assert done["status"] == "done" and done["progress"] == 100
    step("import", imp, "running", "parsing", 10, generation=2)          # a re-run starts over
    [(_, rerun, _)] = events(frames, 1)
    assert rerun["stage"] == "parsing" and rerun["progress"] == 10
    response.close()
    again = me.get("/api/v1/notifications/stream", HTTP_LAST_EVENT_ID=third[0])
    [(_, latest, _)] = events(iter(again.streaming_content), 1)         # the import's state now, once
    assert latest["id"] == imp and latest["stage"] == "parsing" and latest["status"] == "running"
    again.close()
