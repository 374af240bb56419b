"""Writes to exercise tests and their lactate steps. Views and the import flow call these; nothing else writes them.

Deleting is a chain down the layers without upward imports: a test's deletion runs the hooks registered by the
folders above (`before_test_deleted`: imports remove their uploaded files), and the athlete's deletion (athletes)
runs this folder's hook, which deletes each of the athlete's tests here, with its event.
"""
from __future__ import annotations

from collections.abc import Callable

from servicekit.django import idempotency
from servicekit.principal import Principal

from .. import events
from ..athletes import actions as athlete_actions
from .models import ExerciseTest, LactateStep, Sample

PROTOCOL_FIELDS = ("protocol", "protocol_start", "protocol_increment", "protocol_stage_length_s", "protocol_baseline_s",
                   "protocol_baseline_load")
# a change of one of these changes what the analysis computes: the result is re-derived (hooks below)
ANALYSIS_INPUTS = (*PROTOCOL_FIELDS, "date", "modality", "body_mass_kg")
EDITABLE = ("athlete", "date", "modality", *PROTOCOL_FIELDS, "body_mass_kg", "device", "temperature_c",
            "humidity_pct", "pressure_hpa", "notes")
CREATE_ONLY = ("status", "source_format", "source_metadata", "idempotency_key", "request_fingerprint")

_before_delete: list[Callable[[ExerciseTest, str | None, str], None]] = []
_after_inputs_changed: list[Callable[[ExerciseTest, dict, str | None], None]] = []


def after_inputs_changed(hook: Callable[[ExerciseTest, dict, str | None], None]):
    """Register `hook(test, changes, user_id)`, run in the updating transaction when an analysis input changed
    (`changes`: {field: {"before", "after"}}); results re-derives the test's result there."""
    _after_inputs_changed.append(hook)
    return hook


def before_test_deleted(hook: Callable[[ExerciseTest, str | None, str], None]):
    """Register `hook(test, by, reason)`, run in the deleting transaction before the test goes (for folders above
    this one; `reason` as in the event: user, athlete_deleted, retention)."""
    _before_delete.append(hook)
    return hook


def create_test(*, tenant_id, created_by, **fields) -> ExerciseTest:
    """A whole new test in one write: by a user through the API, or by an import for the user who uploaded."""
    declared = bool(fields.get("protocol")) and fields.get("status") is None  # the lab's, not an import's
    return ExerciseTest.objects.create(
        tenant_id=tenant_id, created_by=created_by, protocol_declared=declared,
        **{k: v for k, v in fields.items() if k in EDITABLE or k in CREATE_ONLY})


def create_test_once(by: Principal, idempotency_key: str | None, **fields) -> tuple[ExerciseTest, bool]:
    """A test created through the API: new (created=True), or the one this caller already created with the same
    Idempotency-Key (created=False)."""
    fields = {k: v for k, v in fields.items() if k in EDITABLE}
    return idempotency.create_once(
        ExerciseTest, by=by, key=idempotency_key, fields=fields,
        create=lambda extra: create_test(tenant_id=by.tenant_id, created_by=by.user_id, **fields, **extra))


def update_test(test: ExerciseTest, *, by: str | None = None, **changes) -> ExerciseTest:
    """The lab's edit; when it changes what the analysis depends on, the result is re-derived (a new version)."""
    changed = {}
    for name, value in changes.items():
        if name in EDITABLE:
            before = getattr(test, name)
            if before != value and name in ANALYSIS_INPUTS:
                changed[name] = {"before": _plain(before), "after": _plain(value)}
            setattr(test, name, value)
    if any(name in PROTOCOL_FIELDS for name in changes):
        test.protocol_declared = bool(test.protocol)
    test.save()
    if changed:
        for hook in _after_inputs_changed:
            hook(test, changed, by)
    return test


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def record_source(test: ExerciseTest, source_format: str, source_metadata: dict) -> None:
    """What a (re-)import found in the file: its format and metadata."""
    test.source_format, test.source_metadata = source_format, source_metadata
    test.save(update_fields=["source_format", "source_metadata", "updated_at"])


def record_samples(test: ExerciseTest, count: int, digest: str) -> None:
    """The test's samples were replaced (samples.store_samples): their count and digest (a result's cache key)."""
    test.sample_count, test.data_digest = count, digest
    test.save(update_fields=["sample_count", "data_digest", "updated_at"])


def fill_protocol(test: ExerciseTest, protocol: dict | None) -> None:
    """What the analysis found about the protocol fills the test's fields the lab left empty."""
    if not isinstance(protocol, dict) or test.protocol:
        return
    kind = protocol.get("kind")
    if kind not in ("ramp", "steps"):
        return
    ExerciseTest.objects.filter(pk=test.pk).update(
        protocol=kind, protocol_start=protocol.get("start"), protocol_increment=protocol.get("increment"),
        protocol_stage_length_s=protocol.get("stage_length_s"))


def record_analysis(test: ExerciseTest, result: dict) -> None:
    """A stored result's verdict on the test: analyzed or insufficient (with why), and the body mass it used."""
    insufficient = (result or {}).get("status") == "insufficient"
    reasons = (result or {}).get("insufficient_reasons") or [] if insufficient else []
    mass = ((result or {}).get("athlete") or {}).get("body_mass_kg")
    status = ExerciseTest.Status.INSUFFICIENT if insufficient else ExerciseTest.Status.ANALYZED
    ExerciseTest.objects.filter(pk=test.pk).update(status=status, insufficient_reasons=reasons,
                                                   body_mass_used_kg=mass)
    test.status, test.insufficient_reasons, test.body_mass_used_kg = status, reasons, mass


def set_status(test: ExerciseTest, status: str) -> None:
    ExerciseTest.objects.filter(pk=test.pk).update(status=status)
    test.status = status


def delete_test(test: ExerciseTest, *, by: str | None = None, reason: str = "user") -> None:
    """GDPR: samples, lactate steps, results, imports and the uploaded files go with the test."""
    for hook in _before_delete:
        hook(test, by, reason)
    tenant_id, test_id, athlete_id = str(test.tenant_id), str(test.pk), str(test.athlete_id)
    Sample.objects.filter(test=test).delete()  # one DELETE, before the collector walks the rest
    test.delete()
    events.emit(events.TEST_DELETED, {"test_id": test_id, "athlete_id": athlete_id, "reason": reason,
                                      "deleted_by": str(by) if by else None},
                tenant_id=tenant_id, subject=test_id)


@athlete_actions.before_athlete_deleted
def _delete_the_athletes_tests(athlete, by: str | None) -> None:
    for test in ExerciseTest.objects.filter(athlete=athlete):
        delete_test(test, by=by, reason="athlete_deleted")


# ---- lactate steps ---------------------------------------------------------------------------------------------

LACTATE_FIELDS = ("intensity", "lactate", "heart_rate", "rpe", "length_s")


def replace_lactate_steps(test: ExerciseTest, steps: list[dict]) -> list[LactateStep]:
    LactateStep.objects.filter(test=test).delete()
    return LactateStep.objects.bulk_create([
        LactateStep(tenant_id=test.tenant_id, test=test, stage=i,
                    **{k: step.get(k) for k in LACTATE_FIELDS})
        for i, step in enumerate(steps)])
