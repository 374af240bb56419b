"""Broker connections, the event topology, and a publisher that waits for the broker's confirms.

One URL (`BROKER_URL`) for both modes: `amqp://…` (RabbitMQ, SaaS) or `filesystem://` (local mode: a folder,
`VO2_BROKER_DIR`, default `$VO2_DATA_DIR/broker`, shared by every process of every service).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from kombu import Connection, Exchange, Queue, binding

from .. import config

log = logging.getLogger(__name__)

EXCHANGE_NAME = "vo2.events"
DLX_NAME = "vo2.events.dlx"
EVENTS_EXCHANGE = Exchange(EXCHANGE_NAME, type="topic", durable=True)
DEAD_LETTER_EXCHANGE = Exchange(DLX_NAME, type="direct", durable=True)
FILESYSTEM_TRANSPORT = "servicekit.events.fstransport:Transport"
CONTENT_TYPE = "application/json"


def broker_url(url: str | None = None) -> str:
    if url:
        return url
    try:
        from django.conf import settings

        if settings.configured and getattr(settings, "BROKER_URL", None):
            return settings.BROKER_URL
    except ImportError:  # pragma: no cover - the kit without Django
        pass
    return config.env("BROKER_URL") or "filesystem://"


def is_filesystem(url: str) -> bool:
    return url.split("://", 1)[0] in ("filesystem", "vo2fs")


def is_amqp(url: str) -> bool:
    return url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


def broker_dir() -> Path:
    return Path(config.env("VO2_BROKER_DIR") or (config.data_dir() / "broker")).resolve()


def filesystem_options(base: Path | None = None) -> dict:
    base = Path(base or broker_dir())
    folders = {name: base / name for name in ("queues", "control", "inflight", "staging")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folders["queues"]),
        "data_folder_out": str(folders["queues"]),
        "control_folder": str(folders["control"]),
        "inflight_folder": str(folders["inflight"]),
        "staging_folder": str(folders["staging"]),
        "polling_interval": float(config.env("EVENTS_FS_POLL_SECONDS", "0.05")),
    }


def connection(url: str | None = None, **kwargs) -> Connection:
    """A kombu connection for the configured broker (the safe filesystem transport in local mode)."""
    url = broker_url(url)
    if is_filesystem(url):
        return Connection("filesystem://", transport=FILESYSTEM_TRANSPORT, transport_options=filesystem_options(),
                          **kwargs)
    kwargs.setdefault("connect_timeout", 5)
    return Connection(url, **kwargs)


# -- topology -------------------------------------------------------------------------------------------------------
def max_deliveries() -> int:
    return max(1, config.env_int("EVENTS_MAX_DELIVERIES", 5))


def queue_name(service: str) -> str:
    return f"{service}.events"


def dead_letter_queue_name(service: str) -> str:
    return f"{service}.events.dlq"


def service_queue(service: str, event_types, *, deliveries: int | None = None) -> Queue:
    """`<service>.events`: durable quorum queue bound to the handled types; after `deliveries` failed deliveries a
    message goes to `vo2.events.dlx` with routing key `<service>` (so only this service's DLQ gets it)."""
    deliveries = deliveries or max_deliveries()
    return Queue(
        queue_name(service),
        bindings=[binding(EVENTS_EXCHANGE, routing_key=t) for t in sorted(set(event_types))],
        durable=True,
        auto_delete=False,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": deliveries - 1,  # the count of redeliveries allowed after the first delivery
            "x-dead-letter-exchange": DLX_NAME,
            "x-dead-letter-routing-key": service,
        },
    )


def dead_letter_queue(service: str) -> Queue:
    return Queue(dead_letter_queue_name(service), exchange=DEAD_LETTER_EXCHANGE, routing_key=service, durable=True,
                 auto_delete=False, queue_arguments={"x-queue-type": "quorum"})


def dead_letter_watch_queue_name(service: str) -> str:
    return f"{service}.dead_letters"


def dead_letter_watch_queue(service: str, watched) -> Queue:
    """`<service>.dead_letters`: a copy of every event the `watched` services' consumers gave up on (bound to
    `vo2.events.dlx` beside their own DLQs, which keep theirs for replay). A watcher that keeps failing on one drops
    it after the usual delivery limit (no dead-letter exchange of its own: it would loop)."""
    return Queue(dead_letter_watch_queue_name(service),
                 bindings=[binding(DEAD_LETTER_EXCHANGE, routing_key=s) for s in sorted(set(watched))],
                 durable=True, auto_delete=False,
                 queue_arguments={"x-queue-type": "quorum", "x-delivery-limit": max_deliveries() - 1})


def declare_service_topology(channel, service: str, event_types) -> tuple[Queue, Queue]:
    EVENTS_EXCHANGE(channel).declare()
    DEAD_LETTER_EXCHANGE(channel).declare()
    dlq = dead_letter_queue(service)(channel)
    dlq.declare()
    queue = service_queue(service, event_types)(channel)
    queue.declare()
    return queue, dlq


# -- publishing with confirms ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outgoing:
    event_id: str
    event_type: str
    body: str  # the envelope, serialized once when the event was written
    tenant_id: str | None = None
    routing_key: str | None = None  # default: the event type
    exchange: str = EXCHANGE_NAME


class PublishFailed(RuntimeError):
    pass


class Publisher:
    """Publishes a batch and returns only when the broker has taken every message.

    RabbitMQ: publisher confirms, pipelined (the whole batch is sent, then the acks are awaited; a nack or a timeout
    fails the batch). Filesystem: a message is taken once its file is renamed into the queue folder.
    """

    def __init__(self, url: str | None = None, *, confirm_timeout: float | None = None):
        self.url = broker_url(url)
        self.confirm_timeout = confirm_timeout or float(config.env("EVENTS_CONFIRM_TIMEOUT_SECONDS", "15"))
        self._conn: Connection | None = None
        self._channel = None
        self._producer = None
        self._acked: set[int] = set()
        self._nacked: set[int] = set()
        self._seq = 0

    # connection
    def _ensure(self):
        if self._conn is not None:
            return
        conn = connection(self.url)
        conn.connect()
        try:
            if is_amqp(self.url):
                raw = conn.connection  # py-amqp Connection
                ch = raw.channel()
                ch.exchange_declare(EXCHANGE_NAME, "topic", durable=True, auto_delete=False)
                ch.confirm_select()
                ch.events["basic_ack"].add(self._on_ack)
                ch.events["basic_nack"].add(self._on_nack)
                self._channel, self._seq = ch, 0
                self._acked_upto = self._nacked_upto = self._nack_floor = 0
                self._acked, self._nacked = set(), set()
            else:
                from kombu import Producer

                channel = conn.channel()
                self._producer = Producer(channel, exchange=EVENTS_EXCHANGE)
                EVENTS_EXCHANGE(channel).declare()
                self._channel = channel
        except Exception:
            conn.release()
            raise
        self._conn = conn

    def close(self):
        conn, self._conn, self._channel, self._producer = self._conn, None, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # closing a dead connection
                pass

    def _on_ack(self, tag, multiple):
        if multiple:
            self._acked_upto = max(self._acked_upto, tag)
        else:
            self._acked.add(tag)

    def _on_nack(self, tag, multiple):
        if multiple:
            self._nacked_upto = max(self._nacked_upto, tag)
        else:
            self._nacked.add(tag)

    def _is_acked(self, tag):
        return tag <= self._acked_upto or tag in self._acked

    def _is_nacked(self, tag):
        return (tag <= self._nacked_upto and tag > self._nack_floor) or tag in self._nacked

    def publish_batch(self, messages: list[Outgoing]) -> None:
        if not messages:
            return
        try:
            self._ensure()
            if is_amqp(self.url):
                self._publish_amqp(messages)
            else:
                for m in messages:
                    self._producer.publish(  # Exchange(""): kombu reads a bare "" as "use my default exchange"
                        m.body, exchange=m.exchange if m.exchange else Exchange(""), routing_key=m.routing_key or m.event_type,
                        content_type=CONTENT_TYPE, content_encoding="utf-8", message_id=m.event_id,
                        headers={"ce-type": m.event_type, "ce-tenantid": m.tenant_id or ""}, delivery_mode=2,
                        retry=False)
        except Exception:
            self.close()
            raise

    def _publish_amqp(self, messages: list[Outgoing]) -> None:
        import amqp

        ch = self._channel
        first = self._seq + 1
        for m in messages:
            msg = amqp.Message(m.body.encode("utf-8"), content_type=CONTENT_TYPE, content_encoding="utf-8",
                               delivery_mode=2, message_id=m.event_id, type=m.event_type,
                               timestamp=int(time.time()),
                               application_headers={"ce-type": m.event_type, "ce-tenantid": m.tenant_id or ""})
            ch._basic_publish(msg, exchange=m.exchange, routing_key=m.routing_key or m.event_type)
            self._seq += 1
        last = self._seq
        deadline = time.monotonic() + self.confirm_timeout
        raw = self._conn.connection
        wanted = range(first, last + 1)
        while True:
            if any(self._is_nacked(t) for t in wanted):
                raise PublishFailed("the broker refused (nacked) a message")
            if all(self._is_acked(t) for t in wanted):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishFailed(f"no confirm within {self.confirm_timeout} s")
            raw.drain_events(timeout=min(remaining, 1.0))
        self._acked.difference_update(wanted)
        self._nack_floor = last
