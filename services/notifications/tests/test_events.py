"""The event bus end to end in this service: outbox → relay → broker → consumer → inbox, on RabbitMQ and on the
filesystem transport (local mode)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid

import pytest
from django.db import connections, transaction
from kombu import Queue

from servicekit import testing
from servicekit.events import ContractError, broker, publish, registry
from servicekit.events.consumer import EventConsumer
from servicekit.events.models import InboxEvent, OutboxEvent
from servicekit.events.outbox import NotInTransaction
from servicekit.events.relay import Relay
from servicekit.tenancy import tenant_transaction

from notifications.inapp.models import Notification

from . import event_handlers
from .conftest import manage, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
PROBE = "vo2test.probe.recorded"


def handlers():
    return registry.load(["tests.event_handlers"])


def probe_handlers():
    """Only the test's own types: a queue of the shared broker bound to real types (reports.report.ready, ...) would
    also receive what other test runs on this machine publish."""
    return {t: h for t, h in handlers().items() if t.startswith("vo2test.")}


def write_event(tenant, n=0, event_type=PROBE, **data):
    with tenant_transaction(tenant):
        return publish(event_type, {"user_id": str(uuid.uuid4()), "n": n, **data}, tenant_id=tenant)


def probes(tenant):
    with tenant_transaction(tenant):
        return list(Notification.objects.filter(kind="probe").values_list("event_id", flat=True))


def probe_queue(bus, channel, event_type=PROBE):
    q = Queue(bus.name + ".probe", broker.EVENTS_EXCHANGE, routing_key=event_type, durable=True,
              queue_arguments={"x-queue-type": "quorum"})(channel)
    broker.EVENTS_EXCHANGE(channel).declare()
    q.declare()
    return q


def drain(queue, want: int, timeout=20.0):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        message = queue.get(no_ack=True)
        if message is None:
            time.sleep(0.05)
            continue
        got.append(json.loads(message.body))
    time.sleep(0.3)
    extra = queue.get(no_ack=True)
    while extra is not None:  # anything more would be a double send
        got.append(json.loads(extra.body))
        extra = queue.get(no_ack=True)
    return got


class ConsumerThread:
    def __init__(self, bus, hs=None):
        self.consumer = EventConsumer(bus.name, hs or probe_handlers(), url=bus.url, retry_delay=0.05)
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.consumer.run(ready=self.ready)
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(15), "consumer did not start"
        return self.consumer

    def __exit__(self, *exc):
        self.consumer.stopping.set()
        self.thread.join(15)


# -- publishing --------------------------------------------------------------------------------------------------
def test_a_payload_its_contract_refuses_is_not_published(tenant_a):
    with pytest.raises(ContractError, match="user_id"):
        with tenant_transaction(tenant_a):
            publish(PROBE, {"user_id": "not-a-uuid", "n": 1}, tenant_id=tenant_a)
    with pytest.raises(ContractError, match="n"):
        with tenant_transaction(tenant_a):
            publish(PROBE, {"user_id": str(uuid.uuid4())}, tenant_id=tenant_a)
    with pytest.raises(ContractError, match="no contract"):
        with tenant_transaction(tenant_a):
            publish("vo2test.never.declared", {}, tenant_id=tenant_a)
    assert OutboxEvent.objects.count() == 0


def test_the_envelope_is_a_cloudevent_naming_its_schema_version(tenant_a):
    event_id = write_event(tenant_a, 7)
    envelope = json.loads(OutboxEvent.objects.get(event_id=event_id).body)
    assert envelope["specversion"] == "1.0" and envelope["type"] == PROBE and envelope["id"] == event_id
    assert envelope["tenantid"] == tenant_a and envelope["source"] == "/vo2max/notifications"
    assert envelope["dataschema"] == "urn:vo2max:events:vo2test.probe.recorded.v1"
    assert envelope["datacontenttype"] == "application/json" and envelope["data"]["n"] == 7
    assert envelope["time"].endswith("Z")


def test_publish_refuses_to_run_outside_a_transaction(tenant_a):
    with pytest.raises(NotInTransaction):
        publish(PROBE, {"user_id": str(uuid.uuid4()), "n": 1}, tenant_id=tenant_a)
    assert OutboxEvent.objects.count() == 0


def test_a_rolled_back_change_publishes_nothing(tenant_a, bus):
    with pytest.raises(RuntimeError):
        with tenant_transaction(tenant_a):
            publish(PROBE, {"user_id": str(uuid.uuid4()), "n": 1}, tenant_id=tenant_a)
            assert OutboxEvent.objects.count() == 1  # written in the caller's transaction...
            raise RuntimeError("the change fails")
    assert OutboxEvent.objects.count() == 0  # ...and gone with it
    with broker.connection(bus.url) as conn:
        queue = probe_queue(bus, conn.channel())
        relay = Relay(broker.Publisher(bus.url))
        assert relay.run_once() == 0
        relay.close()
        assert queue.get() is None


def test_relay_publishes_to_rabbitmq_with_confirms_and_marks_sent(tenant_a, rabbit):
    with broker.connection(rabbit.url) as conn:
        queue = probe_queue(rabbit, conn.channel())
        ids = [write_event(tenant_a, n) for n in range(3)]
        relay = Relay(broker.Publisher(rabbit.url))
        assert relay.run_once() == 3
        relay.close()
        got = drain(queue, 3)
    assert [m["id"] for m in got] == ids  # in commit order, each once
    assert all(m["tenantid"] == tenant_a for m in got)
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 0


def test_an_idle_relay_wakes_when_a_commit_writes_events(tenant_a, rabbit):
    """PostgreSQL: the outbox trigger's NOTIFY wakes the relay, which sends the event long before its next look
    (a minute away here); SQLite has no NOTIFY, so there the relay finds it at its next poll."""
    on_postgres = connections["default"].vendor == "postgresql"
    relay = Relay(broker.Publisher(rabbit.url), poll_interval=60.0 if on_postgres else 0.05)
    thread = threading.Thread(target=lambda: (relay.run(), connections.close_all()), daemon=True)
    with broker.connection(rabbit.url) as conn:
        queue = probe_queue(rabbit, conn.channel())
        thread.start()
        try:
            wait_for(lambda: relay._listening_on is not None or not on_postgres, timeout=15,
                     what="the relay to listen")
            time.sleep(0.3)  # past its first (empty) round: it now waits
            ids = [write_event(tenant_a, n) for n in range(3)]
            got = drain(queue, 3, timeout=20)
        finally:
            relay.stopping.set()
            thread.join(65)
            relay.close()
    assert sorted(m["id"] for m in got) == sorted(ids)
    if on_postgres:
        assert relay.wakeups >= 1  # woken, not polled: the next poll was a minute away
    else:
        assert relay.wakeups == 0


@pytest.mark.postgres_only  # NOTIFY is PostgreSQL's; on SQLite the relay polls (the test above)
def test_the_outbox_trigger_notifies_once_per_commit_that_wrote_events(tenant_a):
    import psycopg

    params = connections["default"].get_connection_params()
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute("LISTEN events_outbox")
        with tenant_transaction(tenant_a):  # three events, one commit
            for n in range(3):
                publish(PROBE, {"user_id": str(uuid.uuid4()), "n": n}, tenant_id=tenant_a)
        with pytest.raises(RuntimeError), tenant_transaction(tenant_a):  # rolled back: no news
            publish(PROBE, {"user_id": str(uuid.uuid4()), "n": 9}, tenant_id=tenant_a)
            raise RuntimeError("the change fails")
        got = list(listener.notifies(timeout=2.0))
    assert [n.channel for n in got] == ["events_outbox"]


def _rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def test_a_commit_made_while_the_broker_is_down_is_published_when_it_returns(tenant_a, rabbit):
    with broker.connection(rabbit.url) as conn:
        probe_queue(rabbit, conn.channel())  # durable: survives the restart
    relay = Relay(broker.Publisher(rabbit.url), poll_interval=0.05)
    thread = threading.Thread(target=lambda: (relay.run(), connections.close_all()), daemon=True)
    try:
        _rabbitmqctl("stop_app")
        thread.start()
        event_id = write_event(tenant_a, 1)
        time.sleep(2.0)  # the relay tries, fails, backs off
        assert OutboxEvent.objects.get(event_id=event_id).sent_at is None
    finally:
        _rabbitmqctl("start_app")
    try:
        wait_for(lambda: OutboxEvent.objects.get(event_id=event_id).sent_at, timeout=60, what="the relay to resend")
    finally:
        relay.stopping.set()
        thread.join(15)
        relay.close()
    with broker.connection(rabbit.url) as conn:
        got = drain(probe_queue(rabbit, conn.channel()), 1)
    assert [m["id"] for m in got] == [event_id]  # exactly once


def test_two_relays_never_send_an_event_twice(tenant_a, bus):
    with broker.connection(bus.url) as conn:
        queue = probe_queue(bus, conn.channel())
        relays = [manage("run_relay", "--batch-size", "20", env=bus.env()) for _ in range(2)]
        try:
            ids = []
            for batch in range(20):
                with tenant_transaction(tenant_a):
                    ids += [publish(PROBE, {"user_id": str(uuid.uuid4()), "n": n}, tenant_id=tenant_a)
                            for n in range(15)]
            got = drain(queue, len(ids), timeout=60)
        finally:
            logs = [stop(r) for r in relays]
    received = [m["id"] for m in got]
    assert sorted(received) == sorted(ids), logs  # all 300, none twice
    assert len(set(received)) == len(received) == 300
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 0


def test_a_relay_killed_between_publish_and_mark_sent_causes_one_effect(tenant_a, bus):
    """The broker confirmed, the relay died before its commit: the row is still pending, the next relay sends it
    again, and the consumer's inbox absorbs the duplicate."""

    class DiesAfterConfirm(broker.Publisher):
        def publish_batch(self, messages):
            super().publish_batch(messages)  # the broker has them now
            raise SystemExit("relay killed before marking sent")

    event_id = write_event(tenant_a, 7)
    with ConsumerThread(bus) as consumer:
        dying = Relay(DiesAfterConfirm(bus.url))
        with pytest.raises(SystemExit):
            dying.run_once()
        dying.close()
        assert OutboxEvent.objects.get(event_id=event_id).sent_at is None
        again = Relay(broker.Publisher(bus.url))
        assert again.run_once() == 1
        again.close()
        wait_for(lambda: consumer.stats["duplicate"] >= 1, what="the second delivery")
    assert consumer.stats["handled"] == 1
    assert probes(tenant_a) == [uuid.UUID(event_id)]


# -- consuming ---------------------------------------------------------------------------------------------------
def _publish_raw(bus, envelope: dict, copies=1):
    publisher = broker.Publisher(bus.url)
    try:
        for _ in range(copies):
            publisher.publish_batch([broker.Outgoing(envelope["id"], envelope["type"], json.dumps(envelope),
                                                     envelope["tenantid"])])
    finally:
        publisher.close()


def _envelope(tenant, event_type=PROBE, **data):
    from servicekit.events import envelope

    return envelope.make(event_type, {"user_id": str(uuid.uuid4()), "n": 1, **data}, source="/test",
                         tenant_id=tenant)


def test_the_same_event_twice_has_one_effect(tenant_a, bus):
    env = _envelope(tenant_a)
    with ConsumerThread(bus) as consumer:
        _publish_raw(bus, env, copies=2)
        wait_for(lambda: consumer.stats["duplicate"] >= 1, what="the duplicate")
    assert consumer.stats["handled"] == 1
    assert probes(tenant_a) == [uuid.UUID(env["id"])]
    assert InboxEvent.objects.filter(event_id=env["id"]).count() == 1


def test_the_message_is_acked_only_after_the_commit(tenant_a, bus, monkeypatch):
    """At the moment of the ack, another database connection already sees the inbox row and the effect."""
    seen_at_ack = []
    from servicekit.events import consumer as consumer_module

    original = consumer_module.EventConsumer.on_message

    def spying_on_message(self, message):
        real_ack = message.ack

        def ack(*a, **k):
            other = connections.create_connection("default")
            try:
                seen_at_ack.append(other_sees_inbox(other, env["id"]))
            finally:
                other.close()
            return real_ack(*a, **k)
        message.ack = ack
        return original(self, message)

    monkeypatch.setattr(consumer_module.EventConsumer, "on_message", spying_on_message)
    env = _envelope(tenant_a)
    with ConsumerThread(bus) as consumer:
        _publish_raw(bus, env)
        wait_for(lambda: consumer.stats["handled"] == 1, what="the event")
    assert seen_at_ack == [True]


def other_sees_inbox(conn, event_id) -> bool:
    value = event_id if conn.vendor == "postgresql" else uuid.UUID(event_id).hex
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_inbox WHERE event_id = %s", [value])
        return cursor.fetchone()[0] == 1


def test_a_failing_handler_is_retried_then_dead_lettered_then_replayed(tenant_a, bus, tmp_path):
    flag = tmp_path / "fail"
    flag.write_text("x")
    env = _envelope(tenant_a, "vo2test.probe.failing", fail_while_exists=str(flag))
    with ConsumerThread(bus) as consumer:
        _publish_raw(bus, env)
        wait_for(lambda: event_handlers.CALLS[env["id"]] >= broker.max_deliveries() and consumer.stats["failed"]
                 >= broker.max_deliveries(), what="the retries")
        time.sleep(0.5)
    assert event_handlers.CALLS[env["id"]] == broker.max_deliveries() == 5  # bounded, not acked, then no more
    assert probes(tenant_a) == []  # every attempt rolled back
    assert not InboxEvent.objects.filter(event_id=env["id"]).exists()

    listed = manage("dead_letters", "list", "--json", "--name", bus.name, env=bus.env())
    out = listed.communicate(timeout=60)[0]
    letters = dead_letter_lines(out)
    assert [(d["id"], d["type"], d["tenantid"]) for d in letters] == [(env["id"], env["type"], tenant_a)], out
    assert letters[0]["reason"] in ("delivery_limit", "rejected")

    flag.unlink()  # the bug is fixed
    replay = manage("dead_letters", "replay", "--id", env["id"], "--name", bus.name, env=bus.env())
    out = replay.communicate(timeout=60)[0]
    assert replay.returncode == 0 and f"replayed {env['id']}" in out, out
    with ConsumerThread(bus) as consumer:
        wait_for(lambda: consumer.stats["handled"] == 1, what="the replayed event")
    assert probes(tenant_a) == [uuid.UUID(env["id"])]
    empty = manage("dead_letters", "list", "--json", "--name", bus.name, env=bus.env()).communicate(timeout=60)[0]
    assert dead_letter_lines(empty) == []


def dead_letter_lines(out: str) -> list[dict]:
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [r for r in rows if "reason" in r and "level" not in r]  # not the JSON log lines


def test_a_killed_consumer_leaves_the_event_to_be_handled_once(tenant_a, bus, tmp_path):
    marker = tmp_path / "started"
    env = _envelope(tenant_a, "vo2test.probe.slow", marker=str(marker), sleep=120)
    args = ("run_consumer", "--name", bus.name, "--handlers", "tests.event_handlers")
    first = manage(*args, env=bus.env())
    try:
        wait_until_consuming(first)
        _publish_raw(bus, env)
        wait_for(marker.exists, what="the handler to start")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert probes(tenant_a) == []  # killed mid-handling: nothing committed
    second = manage(*args, env=bus.env())
    try:
        wait_for(lambda: probes(tenant_a), timeout=60, what="the redelivery")
        time.sleep(0.5)
    finally:
        log = stop(second)
    assert probes(tenant_a) == [uuid.UUID(env["id"])], log
    assert InboxEvent.objects.filter(event_id=env["id"]).count() == 1


def wait_until_consuming(proc):
    """The consumer logs `consuming <queue>` once its queue is declared and bound."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "consuming " in line:
            return
    raise AssertionError("consumer exited: " + "".join(lines))


def test_the_tenant_comes_from_the_envelope(tenant_a, tenant_b, caller):
    inviter = str(uuid.uuid4())
    consumer = EventConsumer("unused", handlers())
    from servicekit.events import envelope

    env = envelope.make("identity.invitation.accepted", {
        "invitation_id": str(uuid.uuid4()), "tenant_id": tenant_a, "user_id": str(uuid.uuid4()),
        "email": "new@lab.example", "role": "physiologist", "invited_by": inviter}, source="/vo2max/identity",
        tenant_id=tenant_a)
    assert consumer.process(envelope.parse(json.dumps(env))) == "handled"
    with tenant_transaction(tenant_b):
        assert Notification.objects.count() == 0
    assert caller(tenant_b, user_id=inviter).get("/api/v1/notifications/").json()["results"] == []
    mine = caller(tenant_a, user_id=inviter).get("/api/v1/notifications/").json()["results"]
    assert [n["kind"] for n in mine] == ["invitation.accepted"]
    assert "new@lab.example" in mine[0]["title"] and mine[0]["read"] is False


def test_outbox_relay_consumer_flow(tenant_a, bus):
    """The whole path, on each transport: a committed change's event reaches the handler once."""
    with ConsumerThread(bus) as consumer:
        ids = [write_event(tenant_a, n) for n in range(5)]
        relay = Relay(broker.Publisher(bus.url))
        relay.run(until_idle=True)
        relay.close()
        wait_for(lambda: consumer.stats["handled"] == 5, what="five events")
    assert sorted(probes(tenant_a)) == sorted(uuid.UUID(i) for i in ids)


def test_an_event_a_consumer_gave_up_on_tells_the_lab_managers(tenant_a, bus, tmp_path, caller):
    """The dead-letter watch: the copy of a dead-lettered event reaches the watching consumer, and the tenant's
    owners and admins get an in-app notification (and an e-mail where their preference asks for it), once; the
    service's own dead-letter queue keeps the event for replay."""
    from servicekit.events import envelope
    from servicekit.principal import Principal

    from notifications import consumers
    from notifications.mail.models import EmailDelivery
    from notifications.preferences import actions as preferences

    people = {}
    for role in ("owner", "admin", "physiologist"):
        user = str(uuid.uuid4())
        people[role] = user
        raw = _envelope(tenant_a, "identity.user.created", user_id=user, tenant_id=tenant_a,
                        email=f"{role}@lab.example.org", roles=[role], language="ru" if role == "admin" else "en",
                        name=role.title())
        assert EventConsumer("notifications", registry.load()).process(envelope.parse(json.dumps(raw))) == "handled"
    with tenant_transaction(tenant_a):
        preferences.replace(Principal(people["owner"], tenant_a, frozenset({"owner"})),
                            kinds={"event.dead_lettered": {"in_app": True, "email": True}}, language=None)
    flag = tmp_path / "fail"
    flag.write_text("x")
    env = _envelope(tenant_a, "vo2test.probe.failing", fail_while_exists=str(flag))
    watching = EventConsumer(bus.name, probe_handlers(), url=bus.url, retry_delay=0.05,
                             dead_letter_handler=consumers.dead_lettered, watched=(bus.name,))
    thread = ConsumerThread(bus)
    thread.consumer = watching
    with thread:
        _publish_raw(bus, env)

        def told():
            with tenant_transaction(tenant_a):
                return list(Notification.objects.filter(kind="event.dead_lettered").order_by("user_id"))

        found = wait_for(lambda: len(told()) >= 2 and told(), what="the managers told")
        time.sleep(0.5)  # nothing more comes
        found = told()
    assert sorted(str(n.user_id) for n in found) == sorted([people["owner"], people["admin"]])
    by_user = {str(n.user_id): n for n in found}
    assert by_user[people["owner"]].data["event_id"] == env["id"]
    assert by_user[people["owner"]].data["service"] == bus.name
    assert by_user[people["owner"]].data["event_type"] == "vo2test.probe.failing"
    assert "vo2test.probe.failing" in by_user[people["owner"]].body and bus.name in by_user[people["owner"]].title
    assert by_user[people["admin"]].title.startswith("Сервис")                   # the admin reads Russian
    with tenant_transaction(tenant_a):
        mails = list(EmailDelivery.objects.filter(kind__startswith="event.dead_lettered"))
    assert [m.to_email for m in mails] == ["owner@lab.example.org"]                # e-mail by preference only
    # a redelivered copy of the same dead letter changes nothing
    from servicekit.events.deadletters import DeadLetter

    again = DeadLetter(env["id"], env["type"], tenant_a, "delivery_limit", 5, json.dumps(env))
    assert watching.process_dead_letter(again, bus.name) == "duplicate"
    listed = manage("dead_letters", "list", "--json", "--name", bus.name, env=bus.env())
    letters = dead_letter_lines(listed.communicate(timeout=60)[0])
    assert [d["id"] for d in letters] == [env["id"]]                               # still there for a replay
