"""Dead letters of one service: list them, replay them into the service's own queue, forget those about an erased
subject.

Listing takes the messages without acking and closes the channel (the broker puts them back). Replaying publishes a
copy straight to `<service>.events` (default exchange, so no other service gets it again) with publisher confirms and
the death/delivery-count headers stripped, and only then acks the dead letter.
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass

from . import broker

log = logging.getLogger(__name__)

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


@contextmanager
def _taken(service: str, url: str | None, limit: int):
    """The service's dead letters, taken unacked one by one (at most `limit`), each as (message, DeadLetter); the
    caller acks those it is done with. Closing the channel at the end puts every other one back in the queue.
    `counted["seen"]` says how many were looked at."""
    counted = {"seen": 0}

    def messages(queue):
        while counted["seen"] < limit:
            message = queue.get(no_ack=False)
            if message is None:
                return
            counted["seen"] += 1
            yield message, describe(message)

    with broker.connection(url) as conn:
        channel = conn.channel()
        try:
            yield messages(_dlq(channel, service)), counted
        finally:
            channel.close()  # unacked: back to the dead-letter queue


def list_dead_letters(service: str, *, url: str | None = None, limit: int = 1000) -> list[DeadLetter]:
    with _taken(service, url, limit) as (letters, _):
        return [dead for _, dead in letters]


def replay(service: str, *, ids: set[str] | None = None, url: str | None = None, limit: int = 1000) -> list[str]:
    """Replay the dead letters with these event ids (all when `ids` is None); returns the replayed ids."""
    replayed = []
    publisher = broker.Publisher(url)
    try:
        with _taken(service, url, limit) as (letters, _):
            for message, dead in letters:
                if ids is not None and dead.event_id not in ids:
                    continue
                publisher.publish_batch([broker.Outgoing(dead.event_id, dead.type, dead.body, dead.tenant_id,
                                                         routing_key=broker.queue_name(service), exchange="")])
                message.ack()
                replayed.append(dead.event_id)
    finally:
        publisher.close()
    return replayed


def is_erasure_event(event_type: str) -> bool:
    """An erasure's own events (the requests `*.deleted`, the answers `*.deletion.confirmed`): ids only, and the
    erasure itself; they are never forgotten (a dead-lettered request must stay for an operator to replay)."""
    return event_type.endswith(".deleted") or event_type.endswith(".deletion.confirmed")


def forget(service: str, *, tenant_id, ids, url: str | None = None, limit: int = 10000) -> list[DeadLetter]:
    """Drop (ack) the dead letters of `service` that belong to the tenant and whose envelope names one of `ids`
    (servicekit.erasure.forget_events: their payloads copy an erased subject's data, and a replay would only carry
    it back). The erasure's own events stay, and so does every other dead letter: they are taken unacked and go
    back to the queue when the channel closes. At most `limit` are looked at (a queue longer than that is logged).
    Returns what went, for the caller to count; the payloads are not logged."""
    needles = [str(i) for i in ids if i]
    if not needles:
        return []
    gone: list[DeadLetter] = []
    with _taken(service, url, limit) as (letters, counted):
        for message, dead in letters:
            if (str(dead.tenant_id) == str(tenant_id) and not is_erasure_event(dead.type)
                    and any(n in dead.body for n in needles)):
                message.ack()
                gone.append(dead)
    seen = counted["seen"]
    if seen >= limit:
        log.warning("%s holds more than %d dead letters: only the first %d were checked for an erased subject",
                    broker.dead_letter_queue_name(service), limit, limit)
    for dead in gone:
        log.info("dead letter %s (%s) of %s forgotten: it named an erased subject", dead.event_id, dead.type, service,
                 extra={"tenant_id": str(tenant_id), "event_id": dead.event_id})
    return gone
