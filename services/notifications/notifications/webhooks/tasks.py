"""Background jobs of webhooks (Celery, queue notifications.tasks): one delivery attempt as a kit job, and the
sweep that queues long-waiting retries when they are due (a periodic task: notifications.celery's beat schedule)."""
from __future__ import annotations

import logging
import random

from celery import current_task

from servicekit import periodic

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from servicekit import jobs
from servicekit.tenancy import tenant_transaction

from ..celery import app
from . import actions, addresses, sending, signing
from .models import Delivery

log = logging.getLogger(__name__)


NOT_YET_RETRIES = 20


def _retries() -> int:
    task = current_task
    return int(getattr(task.request, "retries", 0) or 0) if task else 0


def _deliver(delivery_id: str, tenant_id: str) -> str:
    """One attempt: claim (short transaction), the request (no transaction open), record (short transaction)."""
    with tenant_transaction(tenant_id):
        state, claimed = actions.claim(delivery_id)
    if state == actions.NOT_YET:
        if _retries() >= NOT_YET_RETRIES:
            return actions.NOT_YET  # its recording transaction rolled back; the event's redelivery records it anew
        raise jobs.RetryLater("the delivery is not committed yet", countdown=0.5)
    if state == actions.BUSY:  # the endpoint has its concurrent requests out: wait a moment, do not count it
        raise jobs.RetryLater("the endpoint is busy", countdown=random.uniform(0.2, 1.0))
    if state != actions.SEND:
        return state
    at = timezone.now()
    try:
        target = addresses.resolve(claimed.url)   # at delivery too: the name may point elsewhere now
    except addresses.Refused as exc:
        outcome = sending.Outcome(None, 0, "", f"refused: {exc}")
    else:
        timestamp = int(at.timestamp())
        headers = signing.headers(claimed.secrets, claimed.event_id, timestamp, claimed.payload)
        outcome = sending.post(target, claimed.payload, headers, settings.WEBHOOK_TIMEOUT_SECONDS)
    with tenant_transaction(tenant_id):
        result, delay = actions.record_attempt(delivery_id, claimed, at=at, status_code=outcome.status_code,
                                               latency_ms=outcome.latency_ms, excerpt=outcome.excerpt,
                                               error=outcome.error)
    if result == actions.RETRY and delay is not None and delay <= settings.WEBHOOK_MAX_COUNTDOWN_SECONDS:
        raise jobs.RetryLater(f"attempt {claimed.attempt} failed", countdown=delay)
    return result   # done, failed, or a long wait the sweep ends


def _give_up(delivery_id: str, tenant_id: str, *, reason: str) -> str:
    with tenant_transaction(tenant_id):
        return actions.give_up(delivery_id, reason)


def _crashed(delivery_id: str, tenant_id: str) -> None:
    with tenant_transaction(tenant_id):
        actions.give_up(delivery_id, "the delivery failed unexpectedly")


# The attempts end the job themselves (the retry schedule); the task's own count bounds only the waits for a
# recording transaction that never commits and for a busy endpoint.
deliver = jobs.background_job(app, "notifications.webhooks.deliver", max_retries=None, give_up=_give_up,
                              crashed=_crashed, dispatch_setting="WEBHOOK_DISPATCH")(_deliver)


def send_after_commit(delivery: Delivery) -> None:
    """Queued right after the caller's commit (a consumer's event, a ping, a retry), so the worker's first look
    finds the row. A send that fails then (broker gone, process killed) loses nothing: the delivery's watchdog row
    (actions.watch) makes the sweep queue it."""
    deliver.enqueue(str(delivery.id), str(delivery.tenant_id), recovered=True)


@periodic.job("notifications.webhooks.sweep")
def sweep() -> int:
    """Queue the deliveries whose watchdog is due: long-waiting retries, and any whose queued task was lost
    (every WEBHOOK_SWEEP_SECONDS: settings.PERIODIC_JOBS, sent by the beat)."""
    with transaction.atomic():
        due = actions.due_for_sweep()
    for delivery_id, tenant_id in due:
        deliver.send(delivery_id, tenant_id)
    return len(due)
