"""Events notifications reacts to. Each handler runs inside tenant_transaction(event.tenant_id) with the inbox row
written in the same transaction (servicekit.events.consumer); it reads only the fields it needs."""
from servicekit.events import Event, handles

from . import events
from .inapp import actions as inapp
from .mail import actions as mail, tasks as mail_tasks


@handles(events.INVITATION_CREATED)
def invitation_created(event: Event) -> None:
    delivery = mail.record_invitation_email(event)
    if not delivery.finished:
        mail_tasks.send_later(delivery)  # before the commit on purpose: see notifications.mail.actions


@handles(events.INVITATION_ACCEPTED)
def invitation_accepted(event: Event) -> None:
    inapp.notify_invitation_accepted(event)
