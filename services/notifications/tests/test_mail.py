"""Invitation e-mails: rendered in the tenant's language, sent over real SMTP, retried, sent once."""
from __future__ import annotations

import datetime as dt
import email
import json
import subprocess
import sys
import threading
import uuid

import pytest
from aiosmtpd.controller import Controller

from servicekit import testing
from servicekit.events import envelope, registry
from servicekit.events.consumer import EventConsumer
from servicekit.tenancy import tenant_transaction

from notifications.celery import app as celery_app
from notifications.mail import actions
from notifications.mail.models import EmailDelivery

from .conftest import SERVICE_DIR, process_env, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class Inbox:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, env):
        with self.lock:
            self.messages.append((env.mail_from, list(env.rcpt_tos), email.message_from_bytes(env.content)))
        return "250 OK"


@pytest.fixture
def smtp_port():
    return testing.free_port()


def start_smtp(port):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return inbox, controller


def invitation_event(tenant, language="en", email_address="anna@example.org"):
    token = uuid.uuid4().hex + uuid.uuid4().hex
    data = {
        "invitation_id": str(uuid.uuid4()), "tenant_id": tenant, "tenant_name": "Lab Nord",
        "language": language, "email": email_address, "role": "physiologist", "invited_by": str(uuid.uuid4()),
        "invited_by_name": "Dr. Petrova", "accept_token": token,
        "accept_url": f"https://app.vo2max.example/invitations/accept?token={token}",
        "expires_at": "2026-12-24T18:30:00Z", "a_field_from_the_future": {"ignored": True},
    }
    env = envelope.make("identity.invitation.created", data, source="/vo2max/identity", tenant_id=tenant)
    return envelope.parse(json.dumps(env)), token


def text_of(message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")


def subject_of(message) -> str:
    return str(email.header.make_header(email.header.decode_header(message["Subject"])))


@pytest.mark.parametrize("language, subject, phrases", [
    ("en", "Dr. Petrova invites you to Lab Nord on VO2max Report",
     ["as physiologist", "expires on 2026-12-24 18:30 UTC"]),
    ("ru", "Dr. Petrova приглашает вас в Lab Nord в VO2max Report",
     ["с ролью «физиолог»", "действует до 24.12.2026 18:30 UTC"]),
])
def test_the_invitation_email_arrives_in_the_tenants_language(tenant_a, smtp_port, settings, monkeypatch, language,
                                                              subject, phrases):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", smtp_port, False
    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)  # the worker path has its own test below
    inbox, controller = start_smtp(smtp_port)
    try:
        event, token = invitation_event(tenant_a, language)
        consumer = EventConsumer("notifications", registry.load())
        assert consumer.process(event) == "handled"
        assert consumer.process(event) == "duplicate"
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    sender, recipients, message = inbox.messages[0]
    assert recipients == ["anna@example.org"]
    assert subject_of(message) == subject
    body = text_of(message)
    assert f"https://app.vo2max.example/invitations/accept?token={token}" in body
    for phrase in phrases:
        assert phrase in body
    with tenant_transaction(tenant_a):
        delivery = EmailDelivery.objects.get()
    assert delivery.status == "done" and delivery.attempts == 1 and delivery.body == ""  # the link is not kept
    assert message["Message-ID"] == f"<{delivery.id}@vo2max>"


def test_a_delivery_is_sent_once_however_often_its_task_runs(tenant_a, smtp_port, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_port
    event, _ = invitation_event(tenant_a)
    with tenant_transaction(tenant_a):
        delivery = actions.record_invitation_email(event)
        assert actions.record_invitation_email(event).id == delivery.id  # one per event
    inbox, controller = start_smtp(smtp_port)
    try:
        assert actions.attempt_delivery(str(delivery.id), tenant_a) == (actions.SENT, 1)
        assert actions.attempt_delivery(str(delivery.id), tenant_a) == (actions.SKIPPED, 1)
        assert actions.attempt_delivery(str(delivery.id), str(uuid.uuid4()))[0] == actions.NOT_YET  # other tenant
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_a_transient_smtp_failure_is_retried_by_the_worker_and_sent_once(tenant_a, smtp_port):
    """A real Celery worker (filesystem broker, as local mode runs it); the SMTP server is down at first."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "notifications.celery", "worker", "-Q", "notifications.tasks",
         "-P", "solo", "-c", "1", "--without-mingle", "--without-gossip", "-l", "INFO"],
        cwd=SERVICE_DIR, env=process_env(EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp_port, EMAIL_TIMEOUT=3,
                                         MAIL_RETRY_BASE_SECONDS=0.5),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    controller = None
    try:
        event, token = invitation_event(tenant_a, "ru")
        assert EventConsumer("notifications", registry.load()).process(event) == "handled"

        def delivery():
            with tenant_transaction(tenant_a):
                return EmailDelivery.objects.get()

        first = wait_for(lambda: delivery().attempts >= 1 and delivery(), timeout=60, what="a failed attempt")
        assert first.public_status == "sending" and "Connection refused" in first.last_error  # to retry
        inbox, controller = start_smtp(smtp_port)
        sent = wait_for(lambda: delivery().status == "done" and delivery(), timeout=60, what="the retry")
        import time
        time.sleep(1.0)  # nothing more arrives
    finally:
        if controller:
            controller.stop()
        log = stop(worker)
    assert sent.attempts >= 2, log
    assert len(inbox.messages) == 1 and token in text_of(inbox.messages[0][2])
