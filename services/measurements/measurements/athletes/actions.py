"""Writes to athletes. Views validate and call these; nothing else writes an athlete."""
from __future__ import annotations

from collections.abc import Callable

from servicekit.django import idempotency
from servicekit.principal import Principal

from .models import Athlete

_before_delete: list[Callable] = []

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


def before_athlete_deleted(hook: Callable[[Athlete, str | None], None] | None = None, *, first: bool = False):
    """Register `hook(athlete, by)`, run in the deleting transaction before the athlete goes: the folders above
    (tests, imports) remove what they hold about the athlete their own way (events, files). `first=True` runs it
    before the others (the erasure request records the athlete whole, before its tests go)."""
    def register(fn):
        if first:
            _before_delete.insert(0, fn)
        else:
            _before_delete.append(fn)
        return fn
    return register(hook) if hook is not None else register


def delete_athlete(athlete: Athlete, by: str | None = None) -> None:
    """Health data (GDPR): the athlete's tests, samples, lactate steps, results, imports and uploaded files go with
    it; each test's deletion emits `measurements.test.deleted` (the hooks of the folders above)."""
    for hook in _before_delete:
        hook(athlete, by)
    athlete.delete()
