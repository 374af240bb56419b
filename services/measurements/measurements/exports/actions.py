"""Writes of athlete exports: the only module that writes an export row (requested at request time; each step of
the job, called by flows.py inside the transactions it opens; expiry). The ZIP lives in the kit's file store
(settings.EXPORTS_DIR) under `<tenant>/<export>.zip` until it expires (EXPORT_TTL_S after it was ready) or the
athlete is deleted."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from servicekit import jobs, storage
from servicekit.django import idempotency
from servicekit.principal import Principal

from ..athletes import actions as athlete_actions
from .models import AthleteExport, ExportExpiry

Stage = AthleteExport.Stage


def export_files() -> storage.Storage:
    return storage.store("EXPORTS_DIR")


def export_key(row: AthleteExport) -> str:
    return f"{row.tenant_id}/{row.pk}.zip"


def request_export(by: Principal, athlete, idempotency_key: str | None = None) -> tuple[AthleteExport, bool]:
    """A new export of the athlete (queued), or the one this caller requested with the same Idempotency-Key."""
    return idempotency.create_once(
        AthleteExport, by=by, key=idempotency_key, fields={"athlete": athlete.pk},
        create=lambda extra: AthleteExport.objects.create(tenant_id=by.tenant_id, athlete=athlete,
                                                          created_by=by.user_id, **extra))


def claim(row: AthleteExport) -> None:
    jobs.start(row, Stage.GATHERING, progress=5)


def set_stage(row: AthleteExport, stage: str, progress: int) -> None:
    jobs.advance(row, stage, progress=progress)


def done(row: AthleteExport, *, file_key: str, size: int, sha256: str, contents: dict) -> None:
    expires = timezone.now() + timedelta(seconds=settings.EXPORT_TTL_S)
    jobs.finish(row, file_key=file_key, size_bytes=size, sha256=sha256, contents=contents, expires_at=expires)
    ExportExpiry.objects.update_or_create(export_id=row.pk, defaults={"tenant_id": row.tenant_id,
                                                                      "expires_at": expires})


def fail(row: AthleteExport, problem: dict) -> None:
    jobs.fail(row, problem)


def expire(export_id) -> None:
    """Past its time: the file goes (the row stays, so that the link answers 410 rather than 404)."""
    row = AthleteExport.objects.select_for_update().filter(pk=export_id).first()
    key = row.file_key if row is not None else ""
    if key:
        AthleteExport.objects.filter(pk=row.pk).update(file_key="")
        transaction.on_commit(lambda: export_files().delete(key))
    ExportExpiry.objects.filter(export_id=export_id).delete()


def expired(limit: int = 500) -> list[tuple[str, str]]:
    """(export id, tenant id) of the ready exports past their time, across tenants."""
    return [(str(e), str(t)) for e, t in ExportExpiry.objects.filter(expires_at__lte=timezone.now())
            .order_by("expires_at").values_list("export_id", "tenant_id")[:limit]]


@athlete_actions.before_athlete_deleted
def _remove_the_athletes_exports(athlete, by) -> None:
    rows = list(AthleteExport.objects.filter(athlete=athlete))
    ExportExpiry.objects.filter(export_id__in=[r.pk for r in rows]).delete()
    keys = [export_key(r) for r in rows]
    if keys:
        store = export_files()
        transaction.on_commit(lambda: [store.delete(k) for k in keys])
