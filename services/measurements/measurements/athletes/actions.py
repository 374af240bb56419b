"""Writes to athletes. Views validate and call these; nothing else writes an athlete."""
from __future__ import annotations

from servicekit.django import idempotency
from servicekit.principal import Principal

from .models import Athlete

EDITABLE = ("first_name", "last_name", "sex", "birth_date", "height_cm", "body_mass_kg", "sport", "notes", "user_id")


def create_athlete(by: Principal, idempotency_key: str | None = None, **fields) -> tuple[Athlete, bool]:
    """A new athlete (created=True), or the one this caller already created with the same Idempotency-Key."""
    fields = {k: v for k, v in fields.items() if k in EDITABLE}
    return idempotency.create_once(
        Athlete, by=by, key=idempotency_key, fields=fields,
        create=lambda extra: Athlete.objects.create(tenant_id=by.tenant_id, created_by=by.user_id, **fields, **extra))


def update_athlete(athlete: Athlete, **changes) -> Athlete:
    for name, value in changes.items():
        if name in EDITABLE:
            setattr(athlete, name, value)
    athlete.save()
    return athlete


def delete_athlete(athlete: Athlete, by: str | None = None) -> None:
    """Health data (GDPR): the athlete's tests, samples, lactate steps, results, imports and uploaded files go with
    it; each test's deletion emits `measurements.test.deleted`."""
    from ..exercise_tests import actions as test_actions
    from ..exercise_tests.models import ExerciseTest
    from ..imports.models import Import

    for test in ExerciseTest.objects.filter(athlete=athlete):
        test_actions.delete_test(test, by=by, reason="athlete_deleted")
    leftover = [str(pk) for pk in Import.objects.filter(athlete=athlete).values_list("id", flat=True)]
    athlete.delete()
    test_actions.remove_upload_folders(str(athlete.tenant_id), leftover)
