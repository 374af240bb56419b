"""Events notifications reacts to. Each handler runs inside tenant_transaction(event.tenant_id) with the inbox row
written in the same transaction (servicekit.events.consumer); it reads only the fields it needs.

The consumer takes events in batches (settings EVENTS_BATCH_SIZE): a tenant's events of one batch share a
transaction, `prepare_batch` loads what they all need in a few queries (members, preferences, tests, progress rows,
endpoints), and the handlers' notifications, progress rows and webhook deliveries are inserted together at the end
(servicekit.events.batch).

What notifications erased stays erased: an event about a test, athlete or tenant it erased (erasure.models, the
tombstones) arriving afterwards — late, redelivered, replayed from the dead letters — is handled as a no-op
(`unless_erased`): no notification, progress, e-mail, directory entry or webhook delivery about it. The deletion
events themselves are never guarded (a repeated request is confirmed again, integrators hear of it)."""
import functools
import logging

from servicekit.events import Event, handles

from . import events
from .directory import actions as directory, queries as directory_queries
from .erasure import actions as erasure, queries as erased
from .inapp import actions as inapp
from .mail import actions as mail, tasks as mail_tasks
from .outcomes import actions as outcomes
from .preferences import queries as preferences
from .webhooks import actions as webhooks, tasks as webhook_tasks


log = logging.getLogger(__name__)
PEOPLE = ("requested_by", "imported_by", "invited_by")
PROGRESS_OF = {events.REPORT_READY: "report", events.REPORT_FAILED: "report", events.REPORT_PROGRESSED: "report",
               events.TEST_IMPORTED: "import", events.IMPORT_FAILED: "import", events.IMPORT_PROGRESSED: "import"}


def prepare_batch(batch: list[Event]) -> None:
    """What a batch's handlers will read, in one query per table instead of one per event (settings
    EVENTS_BATCH_PREPARE); a handler still reads anything not loaded here itself."""
    people = {e.data.get(k) for e in batch for k in PEOPLE}
    tests = {e.data.get("test_id") for e in batch}
    erased.preload(batch[0].tenant_id if batch else None, tests, {e.data.get("athlete_id") for e in batch})
    directory_queries.preload(people, tests)
    people |= {t.imported_by for t in map(directory_queries.lab_test, tests - {None}) if t is not None}
    preferences.preload(people)
    inapp.lock_progress((PROGRESS_OF[e.type], e.data.get(f"{PROGRESS_OF[e.type]}_id")) for e in batch
                        if e.type in PROGRESS_OF)
    if any(e.type in events.WEBHOOK_EVENT_TYPES for e in batch):
        webhooks.enabled_endpoints()


def unless_erased(handler):
    """The handler runs unless the event's tenant, test or athlete was erased here (then nothing is written)."""
    @functools.wraps(handler)
    def guarded(event: Event) -> None:
        d = event.data
        if erased.erased(event.tenant_id, test_id=d.get("test_id"), athlete_id=d.get("athlete_id")):
            log.info("%s %s ignored: it is about a subject notifications erased", event.type, event.id,
                     extra={"tenant_id": event.tenant_id, "event_id": event.id})
            return None
        return handler(event)
    return guarded


@handles(events.INVITATION_CREATED)
@unless_erased
def invitation_created(event: Event) -> None:
    delivery = mail.record_invitation_email(event)
    if not delivery.finished:
        mail_tasks.send_later(delivery)  # before the commit on purpose: see notifications.mail.actions


@handles(events.INVITATION_ACCEPTED)
@unless_erased
def invitation_accepted(event: Event) -> None:
    directory.remember_member(event, roles=[event.data["role"]])
    inapp.notify_invitation_accepted(event)


@handles(events.USER_CREATED)
@unless_erased
def user_created(event: Event) -> None:
    directory.remember_member(event)


def to_webhooks(event: Event) -> None:
    """The tenant's subscribed endpoints get the event: each delivery is queued right after the commit that records
    it, so the worker finds it there at once (a watchdog row makes the sweep queue it if that send is lost)."""
    for delivery in webhooks.record_deliveries(event):
        if not delivery.finished:
            webhook_tasks.send_after_commit(delivery)


@handles(events.TEST_IMPORTED)
@unless_erased
def test_imported(event: Event) -> None:
    directory.remember_test(event)
    outcomes.import_done(event)
    to_webhooks(event)


@handles(events.TEST_ANALYZED)
@unless_erased
def test_analyzed(event: Event) -> None:
    outcomes.analysis_changed(event)
    to_webhooks(event)


@handles(events.TEST_DELETED)
def test_deleted(event: Event) -> None:
    if not event.data.get("reemitted"):  # a repeated request is measurements asking again, not news to integrators
        to_webhooks(event)
    if event.data.get("reason") == "athlete_deleted":
        return  # erased by the athlete's request, which names the test (and is the one confirmed to measurements)
    erasure.erase_test(event.tenant_id, event.data["test_id"], request_event_id=event.id)


@handles(events.ATHLETE_DELETED)
def athlete_deleted(event: Event) -> None:
    """The athlete's notifications, e-mails, webhook deliveries and directory entries go (integrators are told)."""
    if not event.data.get("reemitted"):
        to_webhooks(event)
    erasure.erase_athlete(event.tenant_id, event.data["athlete_id"], event.data.get("test_ids") or [],
                          request_event_id=event.id)


@handles(events.TENANT_DELETED)
def tenant_deleted(event: Event) -> None:
    erasure.erase_tenant(event.tenant_id, request_event_id=event.id)


@handles(events.IMPORT_FAILED)
@unless_erased
def import_failed(event: Event) -> None:
    outcomes.import_failed(event)
    to_webhooks(event)


@handles(events.REPORT_READY)
@unless_erased
def report_ready(event: Event) -> None:
    outcomes.report_ready(event)
    to_webhooks(event)


@handles(events.REPORT_FAILED)
@unless_erased
def report_failed(event: Event) -> None:
    outcomes.report_failed(event)
    to_webhooks(event)


@handles(events.IMPORT_PROGRESSED)
@unless_erased
def import_progressed(event: Event) -> None:
    outcomes.import_progressed(event)


@handles(events.REPORT_PROGRESSED)
@unless_erased
def report_progressed(event: Event) -> None:
    outcomes.report_progressed(event)


@handles(events.PASSWORD_RESET_REQUESTED)
@unless_erased
def password_reset_requested(event: Event) -> None:
    delivery = mail.record_password_reset_email(event)
    if not delivery.finished:
        mail_tasks.send_later(delivery)  # before the commit on purpose, as for invitations


def dead_lettered(dead, service: str) -> None:
    """A consumer (`service`) gave up on an event: the tenant's managers are told (the kit's dead-letter watch, in
    the event's tenant transaction, once per event and service); an erased tenant's managers are gone with it."""
    if dead.tenant_id and erased.erased(dead.tenant_id):
        return
    outcomes.event_dead_lettered(dead, service)
