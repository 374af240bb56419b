"""Erasure (GDPR): what notifications holds about a deleted test, athlete or tenant goes, and notifications confirms
(`notifications.deletion.confirmed`, published in the same transaction). The only module that erases.

About an athlete or a test it holds: in-app notifications (their `data` names the test and/or the athlete), the
live progress of its imports and reports, e-mail
deliveries (`about`, and those of the same events as the notifications), webhook deliveries whose payload names
them with their attempt log (except the deletion events themselves: they carry ids only, and tell integrators to
delete too), and the test directory (athlete names); the events about it (servicekit.erasure.forget_events: its own
outbox rows, sent or not, and its dead letters in `notifications.events.dlq`). A repeated request finds nothing,
removes nothing and confirms again.

The erased test, athlete or tenant is buried (models.ErasedSubject, ids only): an event about it arriving later — a
report finished while the athlete was deleted, an event relayed late, a redelivery, a replayed dead letter — writes
no notification, progress, e-mail, directory entry or webhook delivery (consumers.py asks `queries.erased`)."""
from __future__ import annotations

from django.db.models import Q

from servicekit import erasure
from servicekit.events import batch

from .. import events
from ..directory.models import LabTest
from ..inapp.models import Notification, Progress
from ..mail.models import EmailDelivery
from ..webhooks.models import Delivery, RetryDue
from . import queries
from .models import ErasedSubject

# deletion events hold ids only; their webhook deliveries are how integrators learn to delete (GDPR art. 19)
DELETION_EVENTS = (events.TEST_DELETED, events.ATHLETE_DELETED)


def _naming(field: str, athlete_id, test_ids: list[str]) -> Q:
    q = Q(**{f"{field}__athlete_id": str(athlete_id)}) if athlete_id else Q(pk__in=[])
    if test_ids:
        q |= Q(**{f"{field}__test_id__in": test_ids})
    return q


def _erase(tenant_id, athlete_id, test_ids) -> dict:
    batch.flush(forget=True)  # a consumer's batch: rows deferred by earlier events go too, nothing cached survives
    test_ids = [str(t) for t in test_ids]
    named = [str(athlete_id)] if athlete_id else []
    named += test_ids
    notes = Notification.objects.filter(_naming("data", athlete_id, test_ids))
    event_ids = list(notes.exclude(event_id=None).values_list("event_id", flat=True))
    report_ids = [r for r in notes.values_list("data__report_id", flat=True) if r]
    notifications, _ = notes.delete()
    # the live progress of the subject's imports and reports (their data names the test and the athlete)
    progress, _ = Progress.objects.filter(_naming("data", athlete_id, test_ids)
                                          | Q(subject=Progress.REPORT, subject_id__in=report_ids)).delete()
    emails, _ = EmailDelivery.objects.filter(_naming("about", athlete_id, test_ids) | Q(event_id__in=event_ids)).delete()
    payload = Q(pk__in=[])
    for value in named:
        payload |= Q(payload__contains=value)
    deliveries = Delivery.objects.filter(payload).exclude(event_type__in=DELETION_EVENTS)
    delivery_ids = list(deliveries.values_list("id", flat=True))
    RetryDue.objects.filter(delivery_id__in=delivery_ids).delete()
    _, by_model = Delivery.objects.filter(pk__in=delivery_ids).delete()
    directory = Q(athlete_id=athlete_id) if athlete_id else Q(pk__in=[])
    listed, _ = LabTest.objects.filter(directory | Q(test_id__in=test_ids)).delete()
    return {"notifications": notifications, "progress": progress, "emails": emails,
            "webhook_deliveries": by_model.get(Delivery._meta.label, 0),
            "webhook_attempts": sum(n for label, n in by_model.items() if label != Delivery._meta.label),
            "directory_tests": listed, **erasure.forget_events(tenant_id, named)}


def _bury(tenant_id, scope: str, subject_id, tests=()) -> None:
    erasure.bury(ErasedSubject, tenant_id, scope, subject_id, tests=tests)
    queries.buried_now(tenant_id, scope, subject_id, tests)


def erase_test(tenant_id, test_id, request_event_id=None) -> dict:
    removed = _erase(tenant_id, None, [test_id])
    _bury(tenant_id, "test", test_id)
    erasure.confirm(events.DELETION_CONFIRMED, scope="test", subject_id=test_id, tenant_id=tenant_id,
                    removed=removed, request_event_id=request_event_id)
    return removed


def erase_athlete(tenant_id, athlete_id, test_ids, request_event_id=None) -> dict:
    removed = _erase(tenant_id, athlete_id, test_ids)
    _bury(tenant_id, "athlete", athlete_id, test_ids)
    erasure.confirm(events.DELETION_CONFIRMED, scope="athlete", subject_id=athlete_id, tenant_id=tenant_id,
                    removed=removed, request_event_id=request_event_id)
    return removed


def erase_tenant(tenant_id, request_event_id=None) -> dict:
    """Every row notifications holds for the tenant: notifications, e-mails, webhook endpoints with their secrets
    and deliveries, preferences, the member and test directory, and the tenant's dead letters. The tombstones stay
    (ids only) and the tenant is buried with them: a late event of the tenant writes nothing."""
    batch.flush(forget=True)
    removed = erasure.erase_tenant(tenant_id, keep=[ErasedSubject], dead_letters=True)  # RetryDue too
    _bury(tenant_id, "tenant", tenant_id)
    erasure.confirm(events.DELETION_CONFIRMED, scope="tenant", subject_id=tenant_id, tenant_id=tenant_id,
                    removed=removed, request_event_id=request_event_id)
    return removed
