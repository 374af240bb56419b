"""Background jobs of notifications' e-mail (Celery, queue notifications.tasks): enqueuing and sending."""
from django.conf import settings

from ..celery import app
from . import actions
from .models import EmailDelivery


def send_later(delivery: EmailDelivery) -> None:
    """Enqueue the delivery now, inside the consumer's transaction (see notifications.mail.actions for why)."""
    send_email.delay(str(delivery.id), str(delivery.tenant_id))


@app.task(bind=True, name="notifications.send_email", max_retries=None)
def send_email(self, delivery_id: str, tenant_id: str) -> str:
    """Send one recorded delivery. Idempotent by delivery id: a sent or failed delivery is left alone, and the row
    is locked while the message goes out, so two workers never send it twice. Transient SMTP failures retry with
    exponential backoff (MAIL_RETRY_BASE_SECONDS × 2^n, at most an hour) up to MAIL_MAX_ATTEMPTS attempts."""
    outcome, attempts = actions.attempt_delivery(delivery_id, tenant_id)
    if outcome == actions.NOT_YET:
        if self.request.retries >= 5:
            return "gone"  # the recording transaction rolled back; the event's redelivery records a new delivery
        raise self.retry(countdown=0.5 * 2 ** self.request.retries)
    if outcome == actions.RETRY:
        countdown = min(settings.MAIL_RETRY_BASE_SECONDS * 2 ** (attempts - 1), 3600)
        raise self.retry(countdown=countdown)
    return outcome
