"""The outbox relay: pending rows → `vo2.events` with publisher confirms → marked sent.

PostgreSQL: a batch is taken `FOR UPDATE SKIP LOCKED` and stays locked until it is published and marked in the same
transaction, so any number of relays never send a row twice (a crash after the broker confirmed but before the
commit sends it again: at-least-once, and the consumers' inbox absorbs it). SQLite (local mode, one relay): the
transaction is BEGIN IMMEDIATE (settings builder), which takes the database's write lock.
Broker down → the transaction rolls back (rows stay pending), the relay waits with exponential backoff and retries.
Metrics (servicekit.metrics): events published and batches not confirmed, counted as they happen; the outbox's
pending count and its oldest pending event's age, sampled every EVENTS_OUTBOX_SAMPLE_SECONDS (5).

Idle, the relay waits for news rather than asking. PostgreSQL: a statement trigger on the outbox NOTIFYs
`events_outbox` (delivered at the writer's commit, migration 0002), the relay LISTENs on its connection and wakes at
once; it still looks every EVENTS_RELAY_POLL_SECONDS (1 s) in case a wake-up was missed (a reconnect, rows restored
from a backup). Polling every 50 ms instead made the four idle relays and their database backends run 80
transactions a second, as many as the API's own under load. SQLite (one lab, a file): polls every 50 ms.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Count, Min
from django.utils import timezone

from .. import config, metrics
from .broker import Outgoing, Publisher
from .models import OutboxEvent

OUTBOX_CHANNEL = "events_outbox"  # the trigger's NOTIFY channel (migrations/0002_outbox_notify.py)
POLL_SECONDS = {"postgresql": "1.0", "sqlite": "0.05"}  # idle: the longest wait for a wake-up, or the poll period
HEARTBEAT_SECONDS = 60.0  # a round of the loop takes a poll interval, a backoff (≤ 5 s) or one batch's publish

log = logging.getLogger("vo2.events.relay")


class Relay:
    def __init__(self, publisher: Publisher | None = None, *, batch_size: int | None = None,
                 poll_interval: float | None = None, using: str = "default", retention_hours: float | None = None):
        self.publisher = publisher or Publisher()
        self.batch_size = batch_size or config.env_int("EVENTS_RELAY_BATCH", 200)
        self.poll_interval = poll_interval if poll_interval is not None else float(config.env(
            "EVENTS_RELAY_POLL_SECONDS", POLL_SECONDS.get(connections[using].vendor, "0.05")))
        self.retention = timedelta(hours=retention_hours if retention_hours is not None else float(
            config.env("EVENTS_OUTBOX_RETENTION_HOURS", "168")))
        self.using = using
        self.stopping = threading.Event()
        self.sent = 0
        service = getattr(settings, "SERVICE_NAME", "unknown")
        self.published, self.failures = metrics.EVENTS_PUBLISHED.labels(service), \
            metrics.EVENTS_PUBLISH_FAILURES.labels(service)
        self.pending, self.oldest = metrics.OUTBOX_PENDING.labels(service), metrics.OUTBOX_OLDEST_AGE.labels(service)
        self.sample_every = float(config.env("EVENTS_OUTBOX_SAMPLE_SECONDS", "5"))
        self._sampled = 0.0
        self._listening_on = None  # the psycopg connection LISTENing for the outbox trigger (a new one must again)
        self.wakeups = 0  # NOTIFYs that woke the idle relay (tests read it)

    def sample_outbox(self) -> tuple[int, float]:
        """How many events wait, and for how long the oldest has (seconds; 0 when none): the metrics' gauges."""
        found = OutboxEvent.objects.using(self.using).filter(sent_at__isnull=True).aggregate(
            pending=Count("id"), oldest=Min("created_at"))
        age = (timezone.now() - found["oldest"]).total_seconds() if found["oldest"] else 0.0
        self.pending.set(found["pending"])
        self.oldest.set(max(0.0, age))
        return found["pending"], age

    def run_once(self) -> int:
        """Publish one batch; returns how many rows were sent. Raises when the broker fails."""
        conn = connections[self.using]
        with transaction.atomic(using=self.using):
            pending = OutboxEvent.objects.using(self.using).filter(sent_at__isnull=True).order_by("id")
            if conn.vendor == "postgresql":
                pending = pending.select_for_update(skip_locked=True)
            rows = list(pending.values_list("id", "event_id", "type", "tenant_id", "body")[: self.batch_size])
            if not rows:
                return 0
            try:
                self.publisher.publish_batch([
                    Outgoing(str(event_id), type_, body, str(tenant) if tenant else None)
                    for _, event_id, type_, tenant, body in rows])
            except Exception:
                self.failures.inc()
                raise
            OutboxEvent.objects.using(self.using).filter(id__in=[r[0] for r in rows]).update(sent_at=timezone.now())
        self.sent += len(rows)
        self.published.inc(len(rows))
        return len(rows)

    def purge_sent(self) -> int:
        cutoff = timezone.now() - self.retention
        deleted, _ = OutboxEvent.objects.using(self.using).filter(sent_at__lt=cutoff).delete()
        return deleted

    def run(self, *, until_idle: bool = False, max_seconds: float | None = None) -> None:
        delay, last_purge = 0.2, 0.0
        started = time.monotonic()
        while not self.stopping.is_set():
            metrics.heartbeat("relay", max_age=HEARTBEAT_SECONDS)  # the metrics port's /healthz (probes)
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                return
            if time.monotonic() - self._sampled >= self.sample_every:
                self._sampled = time.monotonic()
                try:
                    self.sample_outbox()
                except Exception as exc:  # the database is away: run_once will say so and back off
                    log.debug("outbox not sampled: %s", exc)
            try:
                sent = self.run_once()
                delay = 0.2
            except Exception as exc:  # broker or database down: keep the rows, back off, retry
                log.warning("relay could not publish (%s: %s); retrying in %.1f s", type(exc).__name__, exc, delay)
                self.publisher.close()
                close_old_connections()
                if connections[self.using].connection is not None and not connections[self.using].is_usable():
                    connections[self.using].close()
                self.stopping.wait(delay)
                delay = min(delay * 2, float(config.env("EVENTS_RELAY_MAX_BACKOFF_SECONDS", "5")))
                continue
            if sent >= self.batch_size:
                continue  # more waiting: no sleep
            if until_idle and sent == 0:
                return
            if time.monotonic() - last_purge > 600:
                last_purge = time.monotonic()
                try:
                    self.purge_sent()
                except Exception as exc:  # never let housekeeping stop the relay
                    log.warning("outbox purge failed: %s", exc)
            self.wait_for_events(self.poll_interval)

    def wait_for_events(self, timeout: float) -> None:
        """Idle: until a commit wrote outbox rows (PostgreSQL's NOTIFY) or `timeout` passes (SQLite: the latter)."""
        conn = connections[self.using]
        if conn.vendor != "postgresql":
            self.stopping.wait(timeout)
            return
        try:
            conn.ensure_connection()
            raw = conn.connection
            if self._listening_on is not raw:  # LISTEN belongs to the session: a reconnected relay listens again
                with conn.cursor() as cursor:
                    cursor.execute(f"LISTEN {OUTBOX_CHANNEL}")
                self._listening_on = raw
            deadline = time.monotonic() + timeout
            while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
                # in slices of at most a second, so a stopping relay ends soon (no query: a socket wait)
                if any(True for _ in raw.notifies(timeout=min(left, 1.0), stop_after=1)):
                    self.wakeups += 1
                    # one is enough: the next round takes every pending row; drop others that came with it
                    for _ in raw.notifies(timeout=0):
                        pass
                    return
        except Exception as exc:  # the database is away: the next round says so and backs off
            log.debug("not listening for outbox rows: %s", exc)
            self._listening_on = None
            self.stopping.wait(timeout)

    def install_signal_handlers(self):
        def stop(signum, frame):
            self.stopping.set()
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def close(self):
        self.publisher.close()
