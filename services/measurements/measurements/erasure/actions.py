"""Writes of deletion requests: the only module that writes them.

An athlete's deletion (athletes.delete_athlete) or a test's (exercise_tests.delete_test) runs this folder's hooks in
the deleting transaction, which record the request — what measurements removes there (tests, samples, lactate
steps, results, imports with their files, exports; the analysis audit stays anonymised), the event the other
services act on (`measurements.athlete.deleted`; a test's own `measurements.test.deleted`), who must confirm
(settings.DELETION_CONFIRMERS) — and forget the events about the subject (`_forget`). Their
`<service>.deletion.confirmed` answers are recorded here (consumers.py); `reemit` sends an unconfirmed request
again (the periodic job, tasks.py). A tenant deleted at identity is erased here whole (`erase_tenant`).
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from servicekit import erasure

from .. import events
from ..athletes import actions as athlete_actions
from ..exercise_tests import actions as test_actions
from ..exercise_tests.models import ExerciseTest, LactateStep
from ..exports import actions as export_actions
from ..exports.models import AthleteExport
from ..imports import actions as import_actions
from ..imports.models import Import
from ..results.models import AnalysisResult
from .models import Deletion, DeletionDue


def next_due(emitted: int):
    """The first repeat after DELETION_CONFIRM_WITHIN_S, then doubling, at most hourly."""
    wait = min(settings.DELETION_CONFIRM_WITHIN_S * 2 ** max(emitted - 1, 0), 3600.0)
    return timezone.now() + timedelta(seconds=wait)


def _record(tenant_id, scope: str, subject_id, by, event_type: str, data: dict, removed: dict) -> Deletion:
    expected = list(settings.DELETION_CONFIRMERS)
    row = Deletion.objects.create(tenant_id=tenant_id, scope=scope, subject_id=subject_id, requested_by=by or None,
                                  expected=expected, event_type=event_type,
                                  event_data={k: v for k, v in data.items() if v is not None},
                                  removed_here=removed, completed_at=None if expected else timezone.now())
    if expected:
        DeletionDue.objects.create(deletion_id=row.pk, tenant_id=tenant_id, due_at=next_due(1))
    return row


def _forget(tenant_id, ids) -> dict:
    """servicekit.erasure.forget_events: measurements' outbox rows naming the subject go, sent (their payloads copied
    names and results) or not (an import's or analysis's event not relayed yet would carry them to services being
    told to erase them); the deletion's own events stay. Its dead letters are not looked at: measurements consumes
    only deletion confirmations and tenant deletions (ids only, which forgetting keeps anyway), and a deletion
    must not wait on the broker (it is an API request, and the broker may be down)."""
    return erasure.forget_events(tenant_id, ids, dead_letters=False)


@athlete_actions.before_athlete_deleted(first=True)
def _request_the_athletes_erasure(athlete, by) -> None:
    """First of the athlete's deletion hooks: the athlete is still whole, so its tests can be named."""
    tests = list(ExerciseTest.objects.filter(athlete=athlete).values_list("id", "sample_count"))
    test_ids = [str(pk) for pk, _ in tests]
    removed = {"athletes": 1, "tests": len(tests), "samples": sum(n for _, n in tests),
               "lactate_steps": LactateStep.objects.filter(test__athlete=athlete).count(),
               "results": AnalysisResult.objects.filter(test__athlete=athlete).count(),
               "imports": Import.objects.filter(athlete=athlete).count(),
               "exports": AthleteExport.objects.filter(athlete=athlete).count(),
               **_forget(athlete.tenant_id, [athlete.pk, *test_ids])}
    data = {"athlete_id": str(athlete.pk), "test_ids": test_ids, "deleted_by": str(by) if by else None,
            "reason": "user"}
    _record(athlete.tenant_id, "athlete", athlete.pk, by, events.ATHLETE_DELETED, data, removed)
    events.emit(events.ATHLETE_DELETED, data, tenant_id=athlete.tenant_id, subject=str(athlete.pk))


@test_actions.before_test_deleted
def _request_the_tests_erasure(test, by, reason: str) -> None:
    """A test deleted on its own (not as part of its athlete's deletion, whose request covers it): delete_test
    emits `measurements.test.deleted` itself; this records the request for the same payload."""
    if reason == "athlete_deleted":
        return
    removed = {"tests": 1, "samples": test.sample_count,
               "lactate_steps": LactateStep.objects.filter(test=test).count(),
               "results": AnalysisResult.objects.filter(test=test).count(),
               "imports": Import.objects.filter(test=test).count(),
               **_forget(test.tenant_id, [test.pk])}
    data = {"test_id": str(test.pk), "athlete_id": str(test.athlete_id), "reason": reason,
            "deleted_by": str(by) if by else None}
    _record(test.tenant_id, "test", test.pk, by, events.TEST_DELETED, data, removed)


def record_confirmation(service: str, data: dict) -> Deletion | None:
    """`<service>.deletion.confirmed` for one of measurements' requests (in the event's tenant transaction);
    confirmations of requests measurements did not make (a tenant's: identity's) are not its business."""
    if data.get("scope") not in ("athlete", "test"):
        return None
    row = Deletion.objects.select_for_update().filter(scope=data["scope"], subject_id=data["subject_id"]).first()
    if row is None:
        return None
    if erasure.record_confirmation(row, service, data.get("removed")):
        DeletionDue.objects.filter(deletion_id=row.pk).delete()
    return row


def reemit(deletion_id, *, force: bool = False) -> bool:
    """Send an unconfirmed request again (its event as first sent, `reemitted` counting the repeats): the services
    that erased already remove nothing and confirm again. `force` sends a confirmed one too (an operator's
    check). Inside the tenant's transaction; returns whether it was sent."""
    row = Deletion.objects.select_for_update().filter(pk=deletion_id).first()
    if row is None or (row.completed_at and not force):
        DeletionDue.objects.filter(deletion_id=deletion_id).delete()
        return False
    erasure.note_emitted(row)
    events.emit(row.event_type, {**row.event_data, "reemitted": row.emitted - 1}, tenant_id=row.tenant_id,
                subject=str(row.subject_id))
    if not row.completed_at:
        DeletionDue.objects.update_or_create(deletion_id=row.pk, defaults={"tenant_id": row.tenant_id,
                                                                           "due_at": next_due(row.emitted)})
    return True


def due(limit: int = 500) -> list[tuple[str, str]]:
    """(deletion id, tenant id) of the requests due to be sent again, across tenants."""
    return [(str(d), str(t)) for d, t in DeletionDue.objects.filter(due_at__lte=timezone.now())
            .order_by("due_at").values_list("deletion_id", "tenant_id")[:limit]]


def erase_tenant(tenant_id, request_event_id=None) -> dict:
    """identity deleted the tenant: every row measurements holds for it (athletes, tests, samples, results,
    imports, exports, settings, deletion records) and, once committed, its uploaded and exported files; then the
    confirmation, in the same transaction. A repeated request removes nothing and confirms again."""
    removed = erasure.erase_tenant(tenant_id)  # the due times of deletions and exports too: they name the tenant
    stores = (import_actions.uploads(), export_actions.export_files())
    transaction.on_commit(lambda: [store.delete_prefix(str(tenant_id)) for store in stores])
    erasure.confirm(events.DELETION_CONFIRMED, scope="tenant", subject_id=tenant_id, tenant_id=tenant_id,
                    removed=removed, request_event_id=request_event_id)
    return removed
