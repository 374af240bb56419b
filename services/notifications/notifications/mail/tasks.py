"""Background jobs of notifications' e-mail (Celery, queue notifications.tasks): enqueuing and sending, as a kit
job (servicekit.jobs: retry later, final attempt)."""
from django.conf import settings

from servicekit import jobs

from ..celery import app
from . import actions
from .models import EmailDelivery


def _send(delivery_id: str, tenant_id: str) -> str:
    """Send one recorded delivery. Idempotent by delivery id: a sent or failed delivery is left alone, and the row
    is locked while the message goes out, so two workers never send it twice. Transient SMTP failures retry with
    exponential backoff (MAIL_RETRY_BASE_SECONDS × 2^n, at most an hour) up to MAIL_MAX_ATTEMPTS attempts."""
    outcome, attempts = actions.attempt_delivery(delivery_id, tenant_id)
    if outcome == actions.NOT_YET:
        raise jobs.RetryLater("the delivery is not committed yet")
    if outcome == actions.RETRY:
        raise jobs.RetryLater(f"SMTP attempt {attempts} failed",
                              countdown=min(settings.MAIL_RETRY_BASE_SECONDS * 2 ** (attempts - 1), 3600))
    return outcome


def _give_up(delivery_id: str, tenant_id: str, *, reason: str) -> str:
    return actions.give_up(delivery_id, tenant_id, reason)


# The SMTP attempts end the job themselves (MAIL_MAX_ATTEMPTS); the task's own count only bounds the waits for a
# recording transaction that never commits.
send_email = jobs.background_job(app, "notifications.send_email", max_retries=settings.MAIL_MAX_ATTEMPTS + 5,
                                 give_up=_give_up)(_send)


def send_later(delivery: EmailDelivery) -> None:
    """Enqueue the delivery now, inside the consumer's transaction (see notifications.mail.actions for why)."""
    send_email.send(str(delivery.id), str(delivery.tenant_id))
