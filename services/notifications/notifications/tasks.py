"""Background jobs of notifications (Celery, queue notifications.tasks)."""
from django.conf import settings

from .celery import app
from .mail import actions as mail


@app.task(bind=True, name="notifications.send_email", max_retries=None)
def send_email(self, delivery_id: str, tenant_id: str) -> str:
    """Send one recorded delivery. Idempotent by delivery id: a sent or failed delivery is left alone, and the row
    is locked while the message goes out, so two workers never send it twice. Transient SMTP failures retry with
    exponential backoff (MAIL_RETRY_BASE_SECONDS × 2^n, at most an hour) up to MAIL_MAX_ATTEMPTS attempts."""
    outcome, attempts = mail.attempt_delivery(delivery_id, tenant_id)
    if outcome == mail.NOT_YET:
        if self.request.retries >= 5:
            return "gone"  # the recording transaction rolled back; the event's redelivery records a new delivery
        raise self.retry(countdown=0.5 * 2 ** self.request.retries)
    if outcome == mail.RETRY:
        countdown = min(settings.MAIL_RETRY_BASE_SECONDS * 2 ** (attempts - 1), 3600)
        raise self.retry(countdown=countdown)
    return outcome
