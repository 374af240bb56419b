"""E-mail deliveries: recorded when the event arrives (with the inbox row, in one transaction), sent by a Celery
task (notifications.mail.tasks.send_email) that retries transient SMTP failures and is idempotent by delivery id.

The task is enqueued inside the consumer's transaction, before its commit: if the broker refuses, the handler
fails and the event is delivered again (an enqueue after the commit could be lost for good, since the inbox would
then skip the redelivery). A task that runs before the commit is visible finds no row and retries shortly; one whose
transaction rolled back finds no row a few times and gives up (the redelivered event records a new delivery).

Exactly once in effect: the delivery row is unique per (event, kind); the task locks the row while sending and
marks it done in the same transaction (servicekit.jobs); a done row is never sent again. The one window left is a crash after the SMTP
server accepted the message and before the commit: then it is sent again, with the same Message-ID
(<delivery id@vo2max>) so mail systems can recognise the duplicate.
"""
from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from servicekit import jobs
from servicekit.events import Event
from servicekit.problems import problem
from servicekit.tenancy import tenant_transaction

from . import messages
from .models import EmailDelivery

log = logging.getLogger(__name__)
SENT, SKIPPED, RETRY, FAILED, NOT_YET, GONE = "sent", "skipped", "retry", "failed", "not-yet", "gone"
STAGE = "sending"


def record_invitation_email(event: Event) -> EmailDelivery:
    language, subject, body = messages.invitation(event.data)
    delivery, _ = EmailDelivery.objects.get_or_create(
        tenant_id=event.tenant_id, event_id=event.id, kind="invitation",
        defaults={"to_email": event.data["email"], "language": language, "subject": subject, "body": body})
    return delivery


def record_email(*, tenant_id: str, event_id: str, kind: str, to_email: str, language: str, subject: str,
                 body: str, about: dict | None = None) -> EmailDelivery:
    """A notification's e-mail, once per (event, kind); `about`: the ids it names (erased with them)."""
    delivery, _ = EmailDelivery.objects.get_or_create(
        tenant_id=tenant_id, event_id=event_id, kind=kind[:100],
        defaults={"to_email": to_email, "language": language, "subject": subject[:300], "body": body,
                  "about": {k: str(v) for k, v in (about or {}).items() if k.endswith("_id") and v}})
    return delivery


def record_password_reset_email(event: Event) -> EmailDelivery:
    language, subject, body = messages.password_reset(event.data)
    delivery, _ = EmailDelivery.objects.get_or_create(
        tenant_id=event.tenant_id, event_id=event.id, kind="password_reset",
        defaults={"to_email": event.data["email"], "language": language, "subject": subject, "body": body})
    return delivery


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def attempt_delivery(delivery_id: str, tenant_id: str) -> tuple[str, int]:
    """Try to send once; returns (outcome, attempts so far). NOT_YET: the recording transaction has not committed
    (the task is enqueued before that commit, so a failed enqueue fails the event and it is delivered again)."""
    with tenant_transaction(tenant_id):
        delivery = jobs.lock(EmailDelivery, delivery_id)
        if delivery is None:
            return NOT_YET, 0
        if delivery.finished:
            return SKIPPED, delivery.attempts
        jobs.start(delivery, STAGE)
        message = EmailMessage(delivery.subject, delivery.body, settings.DEFAULT_FROM_EMAIL, [delivery.to_email],
                               headers={"Message-ID": f"<{delivery.id}@vo2max>",
                                        "Content-Language": delivery.language},
                               connection=get_connection(fail_silently=False))
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as exc:
            failure = problem(502, "smtp-error", f"{type(exc).__name__}: {exc}"[:2000], title="Bad Gateway")
            if _permanent(exc) or delivery.attempts >= settings.MAIL_MAX_ATTEMPTS:
                jobs.fail(delivery, failure, stage=STAGE)
                outcome = FAILED
            else:
                jobs.advance(delivery, STAGE, problem=failure)  # still to be sent: the task retries later
                outcome = RETRY
            log.warning("e-mail %s attempt %d failed: %s", delivery.id, delivery.attempts, delivery.last_error)
            return outcome, delivery.attempts
        jobs.finish(delivery, sent_at=timezone.now(), body="")
        return SENT, delivery.attempts


def give_up(delivery_id: str, tenant_id: str, reason: str) -> str:
    """The task's last retry passed without a send: the delivery fails with the reason (or was never committed)."""
    with tenant_transaction(tenant_id):
        delivery = jobs.lock(EmailDelivery, delivery_id)
        if delivery is None:
            return GONE  # the recording transaction rolled back; the event's redelivery records a new delivery
        if not delivery.finished:
            jobs.fail(delivery, problem(503, "mail-undeliverable", reason, title="Service Unavailable"), stage=STAGE)
        return FAILED
