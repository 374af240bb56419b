"""Dead letters of one service: list them, replay them into the service's own queue.

Listing takes the messages without acking and closes the channel (the broker puts them back). Replaying publishes a
copy straight to `<service>.events` (default exchange, so no other service gets it again) with publisher confirms and
the death/delivery-count headers stripped, and only then acks the dead letter.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from . import broker

DEATH_HEADERS = ("x-death", "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange",
                 "x-first-death-time", "x-last-death-queue", "x-last-death-reason", "x-last-death-exchange",
                 "x-delivery-count")


@dataclass
class DeadLetter:
    event_id: str
    type: str
    tenant_id: str | None
    reason: str
    deliveries: int | None
    body: str

    def as_dict(self):
        return {"id": self.event_id, "type": self.type, "tenantid": self.tenant_id, "reason": self.reason,
                "deliveries": self.deliveries}


def describe(message) -> DeadLetter:
    """What a dead-lettered message says about its event (the envelope's id, type, tenant; why and after how
    many deliveries it died)."""
    body = message.body.decode("utf-8") if isinstance(message.body, (bytes, bytearray)) else str(message.body)
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = {}
    headers = message.headers or {}
    deaths = headers.get("x-death") or []
    reason = headers.get("x-first-death-reason") or (deaths[0].get("reason") if deaths else None) or "unknown"
    if isinstance(reason, bytes):
        reason = reason.decode()
    deliveries = headers.get("x-delivery-count")
    if deliveries is None and deaths:
        deliveries = deaths[0].get("count")
    props = getattr(message, "properties", {}) or {}
    return DeadLetter(event_id=str(envelope.get("id") or props.get("message_id") or "?"),
                      type=str(envelope.get("type") or "?"), tenant_id=envelope.get("tenantid"),
                      reason=str(reason), deliveries=int(deliveries) if deliveries is not None else None, body=body)


def _dlq(channel, service):
    broker.DEAD_LETTER_EXCHANGE(channel).declare()
    queue = broker.dead_letter_queue(service)(channel)
    queue.declare()
    return queue


def list_dead_letters(service: str, *, url: str | None = None, limit: int = 1000) -> list[DeadLetter]:
    found = []
    with broker.connection(url) as conn:
        channel = conn.channel()
        queue = _dlq(channel, service)
        while len(found) < limit:
            message = queue.get(no_ack=False)
            if message is None:
                break
            found.append(describe(message))
        channel.close()  # unacked: back to the dead-letter queue
    return found


def replay(service: str, *, ids: set[str] | None = None, url: str | None = None, limit: int = 1000) -> list[str]:
    """Replay the dead letters with these event ids (all when `ids` is None); returns the replayed ids."""
    replayed = []
    publisher = broker.Publisher(url)
    try:
        with broker.connection(url) as conn:
            channel = conn.channel()
            queue = _dlq(channel, service)
            seen = 0
            while seen < limit:
                message = queue.get(no_ack=False)
                if message is None:
                    break
                seen += 1
                dead = describe(message)
                if ids is not None and dead.event_id not in ids:
                    continue
                publisher.publish_batch([broker.Outgoing(dead.event_id, dead.type, dead.body, dead.tenant_id,
                                                         routing_key=broker.queue_name(service), exchange="")])
                message.ack()
                replayed.append(dead.event_id)
            channel.close()
    finally:
        publisher.close()
    return replayed
