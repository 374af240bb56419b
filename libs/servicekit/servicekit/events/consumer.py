"""The consumer: one durable quorum queue per service (`<service>.events`), handlers by event type.

Per message: inside `tenant_transaction(envelope.tenantid)` the event id is inserted into the inbox (already there →
a duplicate: ack and skip), the handler runs, the transaction commits, THEN the message is acked. A failing handler
rolls everything back and the message is rejected with requeue after a short backoff: the broker counts the delivery
(`x-delivery-count`) and after EVENTS_MAX_DELIVERIES deliveries dead-letters it to `vo2.events.dlx` → the
`<service>.events.dlq` queue. RabbitMQ does this natively (quorum queue `x-delivery-limit`, `x-dead-letter-exchange`);
the kit's filesystem transport honours the same queue arguments the same way (servicekit.events.fstransport).
A failure is never acked. An envelope that cannot be parsed is rejected without requeue (dead-lettered at once).
The database being unreachable is not the event's fault: the consumer waits for it and retries the same delivery.
Each delivery is a consumer span continuing the envelope's `traceparent` (the publisher's span) and is counted by
outcome (servicekit.metrics); the dead-letter queue's depth is sampled every EVENTS_DLQ_SAMPLE_SECONDS (15).

Dead-letter watch (settings EVENTS_DEAD_LETTER_HANDLER, a dotted path, and EVENTS_DEAD_LETTER_WATCH, the services
watched): the consumer also reads `<service>.dead_letters` (broker.dead_letter_watch_queue), where a copy of every
event those services' consumers gave up on lands, and calls the handler with a `deadletters.DeadLetter` and the
service that gave up, inside the event's tenant transaction with an inbox row of its own (a uuid5 of the queue and
the event id), so a redelivered copy is handled once.

Batches (opt-in, settings EVENTS_BATCH_SIZE > 1, EVENTS_BATCH_PREPARE a dotted path, optional): the broker hands
over up to that many unacked messages (prefetch), the consumer takes what has arrived (waiting at most
EVENTS_BATCH_LINGER_SECONDS for more) and handles each tenant's events of it in ONE transaction: the inbox rows in
one query and one bulk insert (duplicates skipped as above), `prepare(events)` (the service's chance to load what
the whole batch needs at once), each handler in arrival order (a consumer span each, continuing its event's trace),
the writes the handlers deferred (servicekit.events.batch), the commit, THEN the acks. When anything in the batch
fails, all of it rolls back and its events are handled one at a time as above, so only the failing event is
retried and dead-lettered. With no backlog a batch is one event; under a backlog the batches grow and the queries
per event fall. EVENTS_BATCH_SIZE 1 (the default) is the one-at-a-time consumer, unchanged.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from contextlib import ExitStack

from django.db import IntegrityError, InterfaceError, OperationalError, close_old_connections, transaction
from kombu import Consumer

from .. import config, metrics, tracing
from ..requestid import bind as bind_request_id, unbind as unbind_request_id
from ..tenancy import tenant_transaction
from . import batch as batching, broker, registry
from .envelope import EnvelopeError, Event, parse
from .models import InboxEvent

HEARTBEAT_SECONDS = 120.0

log = logging.getLogger("vo2.events.consumer")

HANDLED, DUPLICATE, IGNORED = "handled", "duplicate", "ignored"
DEAD_LETTER_NAMESPACE = uuid.UUID("8f5b0c4e-3d7a-4c52-9a51-6a0d2f1e7b90")  # inbox ids of handled dead letters


def _batch_settings(name, size, prepare):
    """Batch size and prepare hook from the arguments, else from settings: the size for the service's own consumer
    (a consumer under another name, as tests run, takes one event at a time unless told; `run_consumer` tells it),
    the hook (it only loads what the handlers read) for any. 1: no batches."""
    from django.conf import settings

    if size is None:
        own = name == getattr(settings, "SERVICE_NAME", None)
        size = int(getattr(settings, "EVENTS_BATCH_SIZE", 1) or 1) if own else 1
    if prepare is None and getattr(settings, "EVENTS_BATCH_PREPARE", None):
        from django.utils.module_loading import import_string

        prepare = import_string(settings.EVENTS_BATCH_PREPARE)
    return max(1, int(size)), prepare


def _dead_letter_settings(name, handler, watched):
    """The dead-letter watch from the arguments, else from Django settings for the service's own consumer (a
    consumer under another name, as tests run, watches nothing unless told)."""
    from django.conf import settings

    if handler is None and name == getattr(settings, "SERVICE_NAME", None):
        path = getattr(settings, "EVENTS_DEAD_LETTER_HANDLER", None)
        if path:
            from django.utils.module_loading import import_string

            handler = import_string(path)
    if watched is None:
        watched = tuple(getattr(settings, "EVENTS_DEAD_LETTER_WATCH", ()) or ())
    return handler, tuple(watched)


class EventConsumer:
    def __init__(self, name: str, handlers: dict | None = None, *, url: str | None = None,
                 retry_delay: float | None = None, dead_letter_handler=None, watched: tuple[str, ...] | None = None,
                 batch_size: int | None = None, prepare=None):
        self.name = name
        self.batch_size, self.prepare = _batch_settings(name, batch_size, prepare)
        self.linger = float(config.env("EVENTS_BATCH_LINGER_SECONDS", "0.005"))
        self._pending: list = []
        self.handlers = handlers if handlers is not None else registry.load()
        self.dead_letter_handler, self.watched = _dead_letter_settings(name, dead_letter_handler, watched)
        self.url = broker.broker_url(url)
        self.retry_delay = retry_delay if retry_delay is not None else float(
            config.env("EVENTS_RETRY_DELAY_SECONDS", "0.5"))
        self.stopping = threading.Event()
        self.stats = {HANDLED: 0, DUPLICATE: 0, IGNORED: 0, "failed": 0}
        self.dlq_depth = metrics.DEAD_LETTER_DEPTH.labels(name)
        self.sample_every = float(config.env("EVENTS_DLQ_SAMPLE_SECONDS", "15"))

    # -- the work, independent of the broker ---------------------------------------------------------------------
    def process(self, event: Event) -> str:
        handler = self.handlers.get(event.type)
        if handler is None:
            return IGNORED
        if event.tenant_id:
            scope = tenant_transaction(event.tenant_id)
        else:
            scope = transaction.atomic()
        with scope:
            try:
                with transaction.atomic():
                    InboxEvent.objects.create(event_id=event.id, type=event.type, source=event.source[:200],
                                              tenant_id=event.tenant_id)
            except IntegrityError:
                return DUPLICATE
            handler(event)
        return HANDLED

    def process_batch(self, tenant_id, events: list[Event]) -> list[str]:
        """One tenant's events in one transaction (see the module's doc); returns an outcome per event."""
        scope = tenant_transaction(tenant_id) if tenant_id else transaction.atomic()
        with scope, batching.scope() as deferred:
            ids = list(dict.fromkeys(event.id for event in events))
            known = {str(i) for i in InboxEvent.objects.filter(event_id__in=ids).values_list("event_id", flat=True)}
            fresh, seen = [], set(known)
            for event in events:
                if str(uuid.UUID(event.id)) not in seen:
                    seen.add(str(uuid.UUID(event.id)))
                    fresh.append(event)
            # a concurrent consumer inserting the same id makes this fail: the batch then goes one at a time
            InboxEvent.objects.bulk_create([InboxEvent(event_id=e.id, type=e.type, source=e.source[:200],
                                                       tenant_id=e.tenant_id) for e in fresh])
            if fresh and self.prepare is not None:
                self.prepare(fresh)
            handled = {id(event) for event in fresh}
            outcomes = []
            for event in events:
                if id(event) not in handled:
                    outcomes.append(DUPLICATE)
                    continue
                token = bind_request_id(f"event-{event.id}")
                try:
                    with tracing.span(f"handle {event.type}", "consumer", traceparent=event.traceparent,
                                      attributes={"messaging.destination.name": event.type,
                                                  "messaging.message.id": event.id,
                                                  "messaging.operation.name": "process",
                                                  "messaging.batch.message_count": len(events)}):
                        self.handlers[event.type](event)
                finally:
                    unbind_request_id(token)
                outcomes.append(HANDLED)
            deferred.flush()
        return outcomes

    def _collect(self, message) -> None:
        """Batch mode's on_message: held until the loop handles the batch (unacked meanwhile)."""
        self._pending.append(message)

    def handle_batch(self, messages: list) -> None:
        """What the broker handed over: per tenant, one transaction; acks after its commit."""
        groups: dict = {}
        for message in messages:
            try:
                event = parse(message.body)
            except EnvelopeError as exc:
                log.error("unreadable event dead-lettered: %s", exc)
                metrics.EVENTS_DEAD_LETTERED.labels(self.name, "unreadable").inc()
                message.reject(requeue=False)
                continue
            if event.type not in self.handlers:
                self.stats[IGNORED] += 1
                metrics.EVENTS_CONSUMED.labels(self.name, event.type, IGNORED).inc()
                message.ack()
                continue
            groups.setdefault(event.tenant_id, []).append((message, event))
        for tenant_id, items in groups.items():
            events = [event for _, event in items]
            try:
                outcomes = self._waiting_for_database(lambda: self.process_batch(tenant_id, events),
                                                      f"a batch of {len(events)}")
            except Exception:
                log.warning("a batch of %d events failed; handling them one at a time", len(events), exc_info=True)
                for message, _ in items:
                    self.on_message(message)  # own transaction each: only the failing one is retried
                continue
            for (message, event), outcome in zip(items, outcomes):
                self.stats[outcome] += 1
                metrics.EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
                message.ack()  # after the commit

    def _drain(self, conn) -> None:
        """One turn of the loop: wait for a message; in batch mode take what else has arrived, then handle it."""
        try:
            conn.drain_events(timeout=0.5)
            while self._pending and len(self._pending) < self.batch_size and not self.stopping.is_set():
                conn.drain_events(timeout=self.linger)
        except TimeoutError:
            if not self._pending:
                conn.heartbeat_check()
        if self._pending:
            pending, self._pending = self._pending, []
            self.handle_batch(pending)

    # -- one delivery ---------------------------------------------------------------------------------------------
    def on_message(self, message) -> None:
        headers = message.headers or {}
        try:
            event = parse(message.body)
        except EnvelopeError as exc:
            log.error("unreadable event dead-lettered: %s", exc)
            metrics.EVENTS_DEAD_LETTERED.labels(self.name, "unreadable").inc()
            message.reject(requeue=False)
            return
        attempt = int(headers.get("x-delivery-count") or 0) + 1
        token = bind_request_id(f"event-{event.id}")
        try:
            with tracing.span(f"handle {event.type}", "consumer", traceparent=event.traceparent,
                              attributes={"messaging.destination.name": event.type, "messaging.message.id": event.id,
                                          "messaging.operation.name": "process", "vo2.delivery": attempt}):
                try:
                    outcome = self._process_waiting_for_database(event)
                except Exception:
                    self.stats["failed"] += 1
                    metrics.EVENTS_CONSUMED.labels(self.name, event.type, "failed").inc()
                    last = attempt >= broker.max_deliveries()
                    (metrics.EVENTS_DEAD_LETTERED if last else metrics.EVENTS_RETRIED).labels(self.name,
                                                                                             event.type).inc()
                    log.exception("handler for %s %s failed (delivery %d of %d)", event.type, event.id, attempt,
                                  broker.max_deliveries(), extra={"event_id": event.id, "event_type": event.type})
                    self.stopping.wait(min(self.retry_delay * 2 ** (attempt - 1), 30.0))
                    message.reject(requeue=True)  # the broker counts it; past the limit it is dead-lettered
                    return
        finally:
            unbind_request_id(token)
        self.stats[outcome] += 1
        metrics.EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
        message.ack()  # after the commit

    def _process_waiting_for_database(self, event: Event) -> str:
        return self._waiting_for_database(lambda: self.process(event), event.id)

    def _waiting_for_database(self, work, event_id) -> str:
        delay = 0.5
        while True:
            close_old_connections()
            try:
                return work()
            except (OperationalError, InterfaceError) as exc:
                if self.stopping.is_set():
                    raise
                log.warning("database unavailable (%s); retrying %s in %.1f s", exc, event_id, delay)
                from django.db import connections

                for c in connections.all():
                    c.close()
                self.stopping.wait(delay)
                delay = min(delay * 2, 10.0)

    # -- dead letters of the watched services ------------------------------------------------------------------
    def process_dead_letter(self, dead, service: str) -> str:
        once = uuid.uuid5(DEAD_LETTER_NAMESPACE, f"{service}:{dead.event_id}")
        scope = tenant_transaction(dead.tenant_id) if dead.tenant_id else transaction.atomic()
        with scope:
            try:
                with transaction.atomic():
                    InboxEvent.objects.create(event_id=once, type=f"dead-letter:{dead.type}"[:200],
                                              source=f"/dead-letters/{service}"[:200], tenant_id=dead.tenant_id)
            except IntegrityError:
                return DUPLICATE
            self.dead_letter_handler(dead, service)
        return HANDLED

    def on_dead_letter(self, message) -> None:
        from .deadletters import describe

        dead = describe(message)
        queue = str((message.headers or {}).get("x-first-death-queue") or "")
        service = queue[: -len(".events")] if queue.endswith(".events") else (queue or "unknown")
        try:
            self._waiting_for_database(lambda: self.process_dead_letter(dead, service), dead.event_id)
        except Exception:
            log.exception("the dead-letter handler failed for %s %s of %s", dead.type, dead.event_id, service)
            self.stopping.wait(self.retry_delay)
            message.reject(requeue=True)
            return
        message.ack()

    # -- the loop -------------------------------------------------------------------------------------------------
    def declare(self, channel):
        found = broker.declare_service_topology(channel, self.name, self.handlers.keys())
        if self.dead_letter_handler is not None:
            broker.DEAD_LETTER_EXCHANGE(channel).declare()
            watch = broker.dead_letter_watch_queue(self.name, self.watched)(channel)
            watch.declare()
        return found

    def _consumers(self, channel, queue):
        batched = self.batch_size > 1
        made = [Consumer(channel, [queue], on_message=self._collect if batched else self.on_message,
                         prefetch_count=self.batch_size, accept=["json"])]
        if self.dead_letter_handler is not None:
            watch = broker.dead_letter_watch_queue(self.name, self.watched)(channel)
            # the filesystem transport's prefetch is the channel's (the last one set): the batch's, in batch mode
            made.append(Consumer(channel, [watch], on_message=self.on_dead_letter, prefetch_count=self.batch_size,
                                 accept=["json"]))
        return made

    def run(self, *, max_seconds: float | None = None, ready: threading.Event | None = None) -> None:
        started, delay = time.monotonic(), 0.5
        # the metrics port's /healthz (probes): unhealthy until subscribed, then while a round (a delivery's handling,
        # or a reconnection's wait) takes longer than this
        metrics.loop_starting("consumer", HEARTBEAT_SECONDS)
        while not self.stopping.is_set():
            try:
                with broker.connection(self.url) as conn:
                    channel = conn.channel()
                    queue, _ = self.declare(channel)
                    with ExitStack() as consuming:
                        for consumer in self._consumers(channel, queue):
                            consuming.enter_context(consumer)
                        log.info("consuming %s (%s)%s", queue.name, ", ".join(sorted(self.handlers)),
                                 f" and the dead letters of {', '.join(self.watched)}"
                                 if self.dead_letter_handler else "")
                        if ready is not None:
                            ready.set()
                        delay = 0.5
                        sampled = 0.0
                        while not self.stopping.is_set():
                            metrics.heartbeat("consumer")
                            if max_seconds is not None and time.monotonic() - started > max_seconds:
                                return
                            if time.monotonic() - sampled >= self.sample_every:
                                sampled = time.monotonic()
                                self.sample_dead_letters(channel)
                            if self.batch_size > 1:
                                self._drain(conn)
                                continue
                            try:
                                conn.drain_events(timeout=0.5)
                            except TimeoutError:
                                conn.heartbeat_check()
            except conn_errors() as exc:
                self._pending = []  # unacked on a lost connection: the broker delivers them again
                if self.stopping.is_set():
                    return
                if metrics.beaten("consumer"):
                    metrics.heartbeat("consumer")  # alive, reconnecting (a new pod would only do the same)
                log.warning("broker connection lost (%s: %s); reconnecting in %.1f s", type(exc).__name__, exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 10.0)
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                return

    def sample_dead_letters(self, channel) -> int | None:
        """The dead-letter queue's depth (a passive declare on the consumer's channel) into its gauge."""
        try:
            _, depth, _ = channel.queue_declare(queue=broker.dead_letter_queue_name(self.name), passive=True)
        except Exception as exc:  # noqa: BLE001 - a figure not read now; the connection's own errors surface in drain
            log.debug("dead-letter depth not read: %s", exc)
            return None
        self.dlq_depth.set(depth)
        return depth

    def install_signal_handlers(self):
        def stop(signum, frame):
            self.stopping.set()
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)


def conn_errors() -> tuple:
    import amqp
    from kombu.exceptions import OperationalError as KombuOperationalError

    return (OSError, amqp.exceptions.ConnectionError, amqp.exceptions.RecoverableConnectionError,
            amqp.exceptions.RecoverableChannelError, KombuOperationalError, ConnectionError)
