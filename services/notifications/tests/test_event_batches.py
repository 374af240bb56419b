"""The consumer in batch mode (settings EVENTS_BATCH_SIZE, servicekit.events.consumer), on RabbitMQ and on the
filesystem transport: a backlog is taken in batches, one transaction per tenant and batch, each event still once
(inbox), acked only after the commit, and a failing event leaves the others of its batch handled once while it alone
is retried and dead-lettered. Then notifications' own handlers: a batch writes what one-at-a-time writes, in far
fewer statements, and an erasure inside a batch leaves nothing of what earlier events of the batch wrote."""
from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from servicekit.events import broker, envelope as envelopes, registry
from servicekit.events.consumer import EventConsumer
from servicekit.events.models import InboxEvent
from servicekit.principal import Principal
from servicekit.tenancy import tenant_transaction

from notifications.inapp.models import Notification, Progress
from notifications.webhooks import actions as webhooks
from notifications.webhooks.models import Delivery, RetryDue

from . import event_handlers
from .conftest import wait_for
from .test_events import _envelope, _publish_raw, other_sees_inbox, probe_handlers, probes

pytestmark = pytest.mark.django_db(transaction=True)
BATCH = 20


class BatchConsumer:
    """A batch-mode consumer in a thread; `sizes` records each batch it took (per handle_batch call)."""

    def __init__(self, bus, handlers=None, *, spy_ack=None):
        self.consumer = EventConsumer(bus.name, handlers or probe_handlers(), url=bus.url, retry_delay=0.05,
                                      batch_size=BATCH)
        self.sizes: list[int] = []
        original, consumer = self.consumer.handle_batch, self.consumer

        def handle_batch(messages):
            self.sizes.append(len(messages))
            if spy_ack is not None:
                for message in messages:
                    spy_ack(message)
            return original(messages)

        consumer.handle_batch = handle_batch
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def declare(self):
        """The queues before anything is published, so the consumer starts on a backlog."""
        with broker.connection(self.consumer.url) as conn:
            self.consumer.declare(conn.channel())
        return self

    def _run(self):
        try:
            self.consumer.run(ready=self.ready)
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(15), "consumer did not start"
        return self

    def __exit__(self, *exc):
        self.consumer.stopping.set()
        self.thread.join(15)


def test_a_backlog_is_taken_in_batches_each_event_once(tenant_a, tenant_b, bus):
    envs = [_envelope(tenant) for tenant in (tenant_a, tenant_b) for _ in range(BATCH)]
    running = BatchConsumer(bus).declare()
    for env in envs:
        _publish_raw(bus, env)
    _publish_raw(bus, envs[3])  # a duplicate in the same backlog
    with running:
        wait_for(lambda: running.consumer.stats["handled"] == len(envs) and
                 running.consumer.stats["duplicate"] == 1, what="the backlog")
    assert max(running.sizes) > 1, running.sizes  # taken in batches, not one at a time
    assert sorted(map(str, probes(tenant_a))) == sorted(e["id"] for e in envs[:BATCH])
    assert sorted(map(str, probes(tenant_b))) == sorted(e["id"] for e in envs[BATCH:])
    assert InboxEvent.objects.filter(event_id__in=[e["id"] for e in envs]).count() == len(envs)
    assert sum(event_handlers.CALLS[e["id"]] for e in envs) == len(envs)


def test_a_batch_is_acked_only_after_its_commit(tenant_a, bus):
    seen_at_ack = []

    def spy(message):
        real_ack, event_id = message.ack, json.loads(message.body)["id"]

        def ack(*a, **k):
            other = connections.create_connection("default")
            try:
                seen_at_ack.append(other_sees_inbox(other, event_id))
            finally:
                other.close()
            return real_ack(*a, **k)
        message.ack = ack

    envs = [_envelope(tenant_a) for _ in range(5)]
    running = BatchConsumer(bus, spy_ack=spy).declare()
    for env in envs:
        _publish_raw(bus, env)
    with running:
        wait_for(lambda: running.consumer.stats["handled"] == len(envs), what="the batch")
    assert seen_at_ack == [True] * len(envs)


def test_a_failing_event_fails_alone_the_rest_of_its_batch_is_handled_once(tenant_a, bus, tmp_path):
    flag = tmp_path / "fail"
    flag.write_text("x")
    good = [_envelope(tenant_a) for _ in range(6)]
    bad = _envelope(tenant_a, "vo2test.probe.failing", fail_while_exists=str(flag))
    running = BatchConsumer(bus).declare()
    for env in good[:3] + [bad] + good[3:]:
        _publish_raw(bus, env)
    with running:
        wait_for(lambda: running.consumer.stats["handled"] == len(good) and
                 running.consumer.stats["failed"] >= broker.max_deliveries(), what="the batch and the retries")
    assert sorted(map(str, probes(tenant_a))) == sorted(e["id"] for e in good)  # the failing one's rolled back
    assert all(event_handlers.CALLS[e["id"]] >= 1 for e in good)
    assert not InboxEvent.objects.filter(event_id=bad["id"]).exists()
    assert event_handlers.CALLS[bad["id"]] >= broker.max_deliveries()  # retried alone up to the limit
    with broker.connection(bus.url) as conn:  # ... then dead-lettered
        _, depth, _ = conn.channel().queue_declare(queue=broker.dead_letter_queue_name(bus.name), passive=True)
    assert depth == 1


# ---- notifications' handlers in a batch -------------------------------------------------------------------------

def _event(tenant, event_type, data):
    return envelopes.parse(json.dumps(envelopes.make(event_type, data, source="/test", tenant_id=tenant)))


def _lab(tenant, user):
    with tenant_transaction(tenant):
        return webhooks.create_endpoint(Principal(user, tenant, frozenset({"owner"})), url="http://127.0.0.1:9/h",
                                        events=["reports.*", "measurements.*"])


def _stream_of_work(tenant, user, n):
    """report.ready and an import's progress then its end, n times over: what a busy lab's consumer sees."""
    made = []
    for _ in range(n):
        report, imp, test, athlete = (str(uuid.uuid4()) for _ in range(4))
        made.append(_event(tenant, "reports.report.ready", {"report_id": report, "test_id": test,
                                                            "athlete_id": athlete, "language": "en",
                                                            "requested_by": user}))
        made.append(_event(tenant, "measurements.import.progressed", {
            "import_id": imp, "athlete_id": athlete, "imported_by": user, "stage": "parsing", "progress": 30,
            "generation": 1}))
        made.append(_event(tenant, "measurements.test.imported", {
            "test_id": test, "athlete_id": athlete, "import_id": imp, "imported_by": user, "format": "zan",
            "athlete_name": "Anna Ivanova", "date": "2026-11-30", "sample_count": 900}))
    return made


def _written(tenant):
    with tenant_transaction(tenant):
        return (sorted((n.kind, str(n.event_id), n.title, json.dumps(n.data, sort_keys=True))
                       for n in Notification.objects.all()),
                sorted((p.subject, str(p.subject_id), p.status, p.progress) for p in Progress.objects.all()),
                sorted((str(d.event_id), d.event_type, d.status) for d in Delivery.objects.all()),
                RetryDue.objects.filter(tenant_id=tenant).count())


def test_a_batch_writes_what_one_at_a_time_writes_in_far_fewer_statements(tenant_a, tenant_b, settings):
    settings.WEBHOOK_DISPATCH = "none"
    user_a, user_b = str(uuid.uuid4()), str(uuid.uuid4())
    _lab(tenant_a, user_a)
    _lab(tenant_b, user_b)
    consumer = EventConsumer("notifications", registry.load(), batch_size=BATCH)
    one_by_one = _stream_of_work(tenant_a, user_a, 10)
    with CaptureQueriesContext(connection) as single:
        assert [consumer.process(e) for e in one_by_one] == ["handled"] * len(one_by_one)
    batched = _stream_of_work(tenant_b, user_b, 10)
    with CaptureQueriesContext(connection) as together:
        assert consumer.process_batch(tenant_b, batched) == ["handled"] * len(batched)
    assert consumer.process_batch(tenant_b, batched[:2]) == ["duplicate"] * 2  # the inbox still decides

    def shape(rows, events):  # the same rows, event ids and subject ids aside
        index = {e.id: i for i, e in enumerate(events)}
        notes, progress, deliveries, watched = rows
        return (sorted((k, index[e], t, json.loads(d)["link"] is not None) for k, e, t, d in notes),
                sorted((s, st, p) for s, _, st, p in progress),
                sorted((index[e], t, st) for e, t, st in deliveries), watched)

    assert shape(_written(tenant_b), batched) == shape(_written(tenant_a), one_by_one)
    assert len(_written(tenant_b)[0]) == 20 and len(_written(tenant_b)[2]) == 20
    per_event_single = len(single.captured_queries) / len(one_by_one)
    per_event_batch = len(together.captured_queries) / len(batched)
    assert per_event_batch * 5 < per_event_single, (per_event_single, per_event_batch)


def test_an_erasure_inside_a_batch_leaves_nothing_of_earlier_events_of_the_batch(tenant_a, settings):
    settings.WEBHOOK_DISPATCH = "none"
    user = str(uuid.uuid4())
    _lab(tenant_a, user)
    work = _stream_of_work(tenant_a, user, 3)
    gone_test = work[2].data["test_id"]  # the first import's test, deleted later in the same batch
    deleted = _event(tenant_a, "measurements.test.deleted", {"test_id": gone_test,
                                                             "athlete_id": work[2].data["athlete_id"]})
    consumer = EventConsumer("notifications", registry.load(), batch_size=BATCH)
    assert consumer.process_batch(tenant_a, [*work, deleted]) == ["handled"] * (len(work) + 1)
    with tenant_transaction(tenant_a):
        assert not Notification.objects.filter(data__test_id=gone_test).exists()
        assert Notification.objects.filter(kind="import.done").count() == 2
        left = [d for d in Delivery.objects.all() if gone_test in d.payload]
    assert [d.event_type for d in left] == ["measurements.test.deleted"]  # integrators hear of the deletion only


def test_a_batch_writes_each_deferred_update_with_the_rows_latest_values(tenant_a):
    """One row updated in a batch is one plain UPDATE, several are one bulk_update; either way each row ends with
    the latest value of every field deferred for it, and nothing else of it changes."""
    from django.utils import timezone

    from servicekit.events import batch

    with tenant_transaction(tenant_a):
        rows = [Progress.objects.create(tenant_id=tenant_a, user_id=uuid.uuid4(), subject="import",
                                        subject_id=uuid.uuid4(), data={"file": f"test-{i}.xml"}, status="running",
                                        stage="parsing", progress=10, generation=1, updated_at=timezone.now())
                for i in range(3)]
    for changed in (rows[:1], rows[1:]):
        with tenant_transaction(tenant_a), batch.scope() as deferred:
            for row in changed:
                row.stage = "analyzing"
                batch.update(row, ["stage"])
                row.progress = 80
                batch.update(row, ["progress", "stage"])
            with CaptureQueriesContext(connection) as written:
                deferred.flush()
        assert len([q for q in written.captured_queries if q["sql"].startswith("UPDATE")]) == 1
    with tenant_transaction(tenant_a):
        stored = {p.pk: p for p in Progress.objects.filter(pk__in=[r.pk for r in rows])}
    assert [(stored[r.pk].stage, stored[r.pk].progress, stored[r.pk].status, stored[r.pk].data) for r in rows] == \
        [("analyzing", 80, "running", {"file": f"test-{i}.xml"}) for i in range(3)]
