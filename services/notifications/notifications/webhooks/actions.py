"""Every write of webhooks: endpoints (create, edit, rotate the secret, delete), deliveries recorded from events,
pings, manual retries, and the steps of one delivery attempt (claim, record the outcome, give up).

One attempt: a short transaction claims the delivery (locked; a lease so a duplicate task does not send it twice
at once; at most WEBHOOK_MAX_IN_FLIGHT requests out per endpoint, each holding one of its SendingSlot rows, so a
slow receiver holds only its own slots),
the request goes out with no transaction open, and a second short transaction records the attempt and what
follows: done, the next retry (Standard Webhooks' schedule with jitter), or failed — and when the retries of a
delivery run out with no success since, the endpoint is disabled and its owners told.

Nothing is lost between the steps: every unfinished delivery has a watchdog row (RetryDue, `watch`) due a little
after its task should have run (WEBHOOK_PICKUP_GRACE_SECONDS past its next attempt). The row goes when
the delivery finishes; the sweep queues any delivery whose row falls due (its task lost: a consumer killed after
the commit, a broker that refused the send, a worker killed mid-request) and pushes the row on.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import json
import random
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from servicekit import jobs
from servicekit.events import Event, batch, envelope
from servicekit.principal import Principal
from servicekit.problems import problem
from servicekit.tenancy import current_tenant_id

from .. import events
from ..outcomes import actions as outcomes
from . import metrics, signing
from .models import Attempt, Delivery, Endpoint, RetryDue, SendingSlot

SENDING, WAITING = "sending", "waiting"
NOT_YET, SKIPPED, BUSY, SEND = "not-yet", "skipped", "busy", "send"
DONE, RETRY, FAILED, STALE = "done", "retry", "failed", "stale"
LEASE_MARGIN_SECONDS = 30


# ---- endpoints ---------------------------------------------------------------------------------------------------

def unknown_patterns(patterns: list[str]) -> list[str]:
    """The entries that name no event type integrators can subscribe to."""
    return [p for p in patterns if not any(fnmatch.fnmatchcase(t, p) for t in events.WEBHOOK_EVENT_TYPES)]


def subscribed(endpoint: Endpoint, event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, p) for p in endpoint.events)


def create_endpoint(by: Principal, *, url: str, events: list[str], description: str = "",
                    enabled: bool = True, **extra) -> Endpoint:
    """`extra`: the Idempotency-Key columns (servicekit.django.idempotency.create_once)."""
    return Endpoint.objects.create(tenant_id=by.tenant_id, url=url, events=list(dict.fromkeys(events)),
                                   description=description, enabled=enabled, secret=signing.new_secret(),
                                   created_by=by.user_id, **extra)


def update_endpoint(endpoint: Endpoint, by: Principal, **fields) -> Endpoint:
    if "events" in fields:
        fields["events"] = list(dict.fromkeys(fields["events"]))
    if fields.get("enabled") is True and not endpoint.enabled:
        fields["disabled_reason"] = ""
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.updated_by = by.user_id
    endpoint.save()
    return endpoint


def rotate_secret(endpoint: Endpoint, by: Principal) -> Endpoint:
    """A new secret; the old one keeps signing beside it for WEBHOOK_SECRET_OVERLAP_SECONDS."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + dt.timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP_SECONDS)
    endpoint.secret = signing.new_secret()
    endpoint.updated_by = by.user_id
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_by", "updated_at"])
    return endpoint


def delete_endpoint(endpoint: Endpoint) -> None:
    # The deliveries locked first, as a sending worker locks them (delivery, then endpoint): an attempt it records
    # meanwhile would reference a delivery the cascade deletes (an IntegrityError, a 500 on PostgreSQL; schemathesis
    # found it). A worker waiting on the lock then finds the delivery gone, which it handles.
    ids = list(Delivery.objects.select_for_update().filter(endpoint=endpoint).values_list("id", flat=True))
    RetryDue.objects.filter(delivery_id__in=ids).delete()
    endpoint.delete()


def secrets_in_use(endpoint: Endpoint, now: dt.datetime | None = None) -> list[str]:
    now = now or timezone.now()
    used = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        used.append(endpoint.previous_secret)
    return used


# ---- deliveries --------------------------------------------------------------------------------------------------

def _payload(raw: dict) -> str:
    return json.dumps(envelope.public(raw), separators=(",", ":"), ensure_ascii=False)  # no internal trace context


def watch(delivery: Delivery, due: dt.datetime, *, new: bool = False) -> None:
    """The sweep queues this delivery at `due` unless it has finished by then (one statement: these run for every
    delivery)."""
    if new or not RetryDue.objects.filter(delivery_id=delivery.id).update(due_at=due):
        batch.create(RetryDue(delivery_id=delivery.id, tenant_id=delivery.tenant_id, due_at=due))


def unwatch(delivery: Delivery) -> None:
    RetryDue.objects.filter(delivery_id=delivery.id).delete()


def _grace() -> dt.timedelta:
    return dt.timedelta(seconds=settings.WEBHOOK_PICKUP_GRACE_SECONDS)


def enabled_endpoints() -> list[Endpoint]:
    """The current tenant's enabled endpoints (read once per consumer batch: servicekit.events.batch)."""
    known = batch.cache("webhooks.endpoints")
    tenant = current_tenant_id()
    if tenant not in known:
        known[tenant] = list(Endpoint.objects.filter(enabled=True))
    return known[tenant]


def record_deliveries(event: Event) -> list[Delivery]:
    """One delivery per enabled endpoint of the event's tenant that subscribes to its type (once per event id).
    In a consumer's batch the rows are inserted with the batch's others: the inbox row, new in this transaction,
    proves none exists; a conflict fails the batch, which then goes one event at a time (get_or_create)."""
    made = []
    for endpoint in enabled_endpoints():
        if subscribed(endpoint, event.type):
            now = timezone.now()
            values = {"event_type": event.type, "payload": _payload(event.raw), "next_attempt_at": now}
            if batch.current() is not None:
                delivery, created = batch.create(Delivery(tenant_id=event.tenant_id, endpoint=endpoint,
                                                          event_id=event.id, **values)), True
            else:
                delivery, created = Delivery.objects.get_or_create(
                    tenant_id=event.tenant_id, endpoint=endpoint, event_id=event.id, defaults=values)
            if created:
                watch(delivery, now + _grace(), new=True)
            made.append(delivery)
    return made


def ping(endpoint: Endpoint, by: Principal) -> Delivery:
    raw = envelope.make(events.WEBHOOK_PING, {"endpoint_id": str(endpoint.id), "requested_by": by.user_id},
                        source="/notifications", tenant_id=endpoint.tenant_id, subject=str(endpoint.id))
    delivery = Delivery.objects.create(tenant_id=endpoint.tenant_id, endpoint=endpoint, event_id=raw["id"],
                                       event_type=events.WEBHOOK_PING, payload=_payload(raw),
                                       next_attempt_at=timezone.now())
    watch(delivery, delivery.next_attempt_at + _grace(), new=True)
    return delivery


def retry(delivery: Delivery) -> Delivery:
    """Send a finished delivery again (same webhook-id: the receiver may dedupe), from a fresh schedule."""
    if delivery.finished:
        jobs.rerun(delivery, next_attempt_at=timezone.now(), sending_until=None, attempts=0)
    else:
        jobs.advance(delivery, WAITING, next_attempt_at=timezone.now(), sending_until=None)
    watch(delivery, timezone.now() + _grace())
    return delivery


# ---- one attempt -------------------------------------------------------------------------------------------------

@dataclass
class Claim:
    generation: int
    attempt: int
    url: str
    payload: bytes
    secrets: list[str]
    event_id: str


def claim(delivery_id: str) -> tuple[str, Claim | None]:
    """Inside the task's tenant transaction: may this run send the delivery now?"""
    delivery = jobs.lock(Delivery, delivery_id)
    if delivery is None:
        return NOT_YET, None
    now = timezone.now()
    if delivery.finished:
        unwatch(delivery)
        return SKIPPED, None
    if delivery.sending_until and delivery.sending_until > now:
        return SKIPPED, None   # another run has its request out
    if delivery.next_attempt_at and delivery.next_attempt_at > now + dt.timedelta(seconds=1):
        return SKIPPED, None   # an earlier task's duplicate: the current schedule has its own
    endpoint = Endpoint.objects.get(pk=delivery.endpoint_id)
    if not endpoint.enabled and delivery.event_type != events.WEBHOOK_PING:
        jobs.fail(delivery, problem(409, "webhook-endpoint-disabled", "the endpoint was disabled"), stage=WAITING)
        return FAILED, None
    lease = now + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    if not take_slot(endpoint, delivery, now=now, until=lease):
        return BUSY, None
    # a worker killed mid-request: its task comes again and finds the lease, the watchdog row (due a grace after the
    # delivery was due, moved on by each sweep) queues it again until the lease is over
    jobs.start(delivery, SENDING, sending_until=lease)
    return SEND, Claim(delivery.generation, delivery.attempts, endpoint.url, delivery.payload.encode(),
                       secrets_in_use(endpoint, now), str(delivery.event_id))


def _free_slot(endpoint: Endpoint, delivery: Delivery, now: dt.datetime):
    # free, or already this delivery's (a run again after its worker died holding it)
    free = Q(held_until__isnull=True) | Q(held_until__lte=now) | Q(delivery_id=delivery.id)
    # SKIP LOCKED: a slot another claim is taking is passed over, not waited for (SQLite serialises writers anyway)
    return (SendingSlot.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(free, endpoint_id=endpoint.id, number__lt=settings.WEBHOOK_MAX_IN_FLIGHT)
            .order_by("number").first())


def take_slot(endpoint: Endpoint, delivery: Delivery, *, now: dt.datetime, until: dt.datetime) -> bool:
    """One of the endpoint's WEBHOOK_MAX_IN_FLIGHT request slots for this delivery until `until` (its lease), or
    False when all are held. The slots are made the first time they are needed (and when the limit grows)."""
    slot = _free_slot(endpoint, delivery, now)
    if slot is None:
        have = SendingSlot.objects.filter(endpoint_id=endpoint.id, number__lt=settings.WEBHOOK_MAX_IN_FLIGHT).count()
        if have < settings.WEBHOOK_MAX_IN_FLIGHT:
            SendingSlot.objects.bulk_create([SendingSlot(tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id,
                                                         number=n) for n in range(settings.WEBHOOK_MAX_IN_FLIGHT)],
                                            ignore_conflicts=True)
        # looked for again either way: another claim may have made the slots (and committed) since the first look
        slot = _free_slot(endpoint, delivery, now)
        if slot is None:
            return False
    SendingSlot.objects.filter(pk=slot.pk).update(delivery_id=delivery.id, held_until=until)
    return True


def release_slot(delivery: Delivery) -> None:
    """The delivery's request ended (answered, failed or timed out): its slot is free for the next one."""
    SendingSlot.objects.filter(endpoint_id=delivery.endpoint_id, delivery_id=delivery.id).update(delivery_id=None,
                                                                                                held_until=None)


def retry_delay(attempts: int) -> float | None:
    """Seconds until the retry after `attempts` failed attempts (±20 % jitter), None when the schedule ran out."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    return schedule[attempts - 1] * random.uniform(0.8, 1.2)


def record_attempt(delivery_id: str, claimed: Claim, *, at: dt.datetime, status_code: int | None, latency_ms: int,
                   excerpt: str = "", error: str = "") -> tuple[str, float | None]:
    """Inside the task's tenant transaction: the attempt's log line and what follows. Returns (DONE | RETRY |
    FAILED | STALE, seconds to the retry)."""
    delivery = jobs.lock(Delivery, delivery_id, related=("endpoint",))
    if delivery is None:
        return STALE, None
    release_slot(delivery)   # the request is over, whatever is recorded
    if delivery.generation != claimed.generation:
        return STALE, None
    Attempt.objects.create(tenant_id=delivery.tenant_id, delivery=delivery, at=at, status_code=status_code,
                           latency_ms=latency_ms, response_excerpt=excerpt[:1024], error=error[:500])
    endpoint = delivery.endpoint
    if status_code is not None and 200 <= status_code < 300:
        jobs.finish(delivery, sending_until=None, next_attempt_at=None)
        unwatch(delivery)
        note_success(endpoint)
        return DONE, None
    why = f"HTTP {status_code}" if status_code is not None else error
    failure = problem(502, "webhook-delivery-failed", f"attempt {delivery.attempts}: {why}"[:2000],
                      title="Bad Gateway")
    delay = retry_delay(delivery.attempts) if delivery.event_type != events.WEBHOOK_PING else None
    if delay is None:
        jobs.fail(delivery, failure, stage=SENDING, sending_until=None, next_attempt_at=None)
        unwatch(delivery)
        if delivery.event_type != events.WEBHOOK_PING:
            _disable_if_failing(endpoint, since=delivery.created_at)
        return FAILED, None
    due = timezone.now() + dt.timedelta(seconds=delay)
    jobs.advance(delivery, WAITING, problem=failure, sending_until=None, next_attempt_at=due)
    # a retry further than WEBHOOK_MAX_COUNTDOWN_SECONDS away is the sweep's to queue; a nearer one has its task
    watch(delivery, due if delay > settings.WEBHOOK_MAX_COUNTDOWN_SECONDS else due + _grace())
    return RETRY, delay


# An endpoint's last success is written at most once a second: every delivery writing the endpoint's row made the
# deliveries to one receiver queue on that row's lock (the claims lock it too), which under load became the
# webhooks' whole latency. A success that matched the condition but was not written is at most this old.
SUCCESS_RESOLUTION = dt.timedelta(seconds=1)


def note_success(endpoint: Endpoint) -> None:
    """Inside the recording transaction: the endpoint answered 2xx now (the retry rule reads it)."""
    now = timezone.now()
    # a row whose recorded success is recent does not match, so PostgreSQL skips it without waiting for its lock
    Endpoint.objects.filter(pk=endpoint.pk).filter(
        Q(last_success_at__isnull=True) | Q(last_success_at__lt=now - SUCCESS_RESOLUTION)).update(last_success_at=now)


def give_up(delivery_id: str, reason: str) -> str:
    delivery = jobs.lock(Delivery, delivery_id)
    if delivery is None:
        return NOT_YET
    if not delivery.finished:
        jobs.fail(delivery, problem(503, "webhook-undeliverable", reason, title="Service Unavailable"),
                  sending_until=None)
    release_slot(delivery)
    unwatch(delivery)
    return FAILED


def _disable_if_failing(endpoint: Endpoint, *, since: dt.datetime) -> None:
    """A delivery's retries ran out: unless the endpoint succeeded since that delivery began, it is disabled and
    the tenant's owners and admins are told (its creator and last editor when none is known yet)."""
    endpoint = Endpoint.objects.get(pk=endpoint.pk)
    # a success recorded within SUCCESS_RESOLUTION before the delivery began may stand for one after it
    if not endpoint.enabled or (endpoint.last_success_at and endpoint.last_success_at > since - SUCCESS_RESOLUTION):
        return
    endpoint.enabled = False
    endpoint.disabled_reason = "every attempt failed for the whole retry schedule"
    endpoint.save(update_fields=["enabled", "disabled_reason", "updated_at"])
    transaction.on_commit(metrics.ENDPOINTS_DISABLED.inc)
    outcomes.webhook_disabled(endpoint, (endpoint.created_by, endpoint.updated_by))


def due_for_sweep(now: dt.datetime | None = None, limit: int = 500) -> list[tuple[str, str]]:
    """(delivery id, tenant id) of the deliveries whose watchdog is due; each row moves on by the grace period, so a
    task lost again is queued again (the task that runs finds it due, not due yet, or finished: all harmless)."""
    now = now or timezone.now()
    rows = list(RetryDue.objects.filter(due_at__lte=now).order_by("due_at")[:limit])
    RetryDue.objects.filter(delivery_id__in=[r.delivery_id for r in rows]).update(due_at=now + _grace())
    return [(str(r.delivery_id), str(r.tenant_id)) for r in rows]
