"""Writes of imports. This module is the only one that writes an import row: accepting an upload and re-running it
(at request time), and each step of the job (claimed, stage, stored, done, failed), which the import flow
(pipeline.py) calls inside the transactions it opens. Nothing here opens a transaction or queues work: the views
hand accepted imports to `tasks.run_import.enqueue`.

Uploaded files live in the kit's file store (settings.UPLOADS_DIR), under `<tenant>/<import>/<file name>`; they
go once the deletion of their import's test or athlete is committed.
"""
from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from servicekit import jobs, plans, storage
from servicekit.django import idempotency
from servicekit.principal import Principal
from servicekit.problems import ProblemError

from .. import events
from ..athletes import actions as athlete_actions
from ..exercise_tests import actions as test_actions
from . import warning_details
from .models import Import, UploadRetention

Stage = Import.Stage
PROGRESS = {Stage.PARSING: 10, Stage.STORING: 40, Stage.ANALYZING: 70}


def uploads() -> storage.Storage:
    return storage.store("UPLOADS_DIR")


# ---- at request time ---------------------------------------------------------------------------------------------

def imports_this_month(tenant_id) -> int:
    """The tenant's imports created since the 1st of this month (UTC), whatever became of them."""
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Import.objects.filter(tenant_id=tenant_id, created_at__gte=start).count()


def stored_bytes(tenant_id) -> int:
    """The bytes of the tenant's uploaded files still kept (a deleted test's or athlete's imports are gone)."""
    return Import.objects.filter(tenant_id=tenant_id, file_removed_at__isnull=True).aggregate(
        total=Sum("size_bytes"))["total"] or 0


def accept_upload(by: Principal, athlete, upload, *, format_hint: str = "", modality: str = "",
                  idempotency_key: str | None = None) -> tuple[Import, bool]:
    """Store the file and create the import (queued). Returns (import, created?): a retried upload with the same
    Idempotency-Key and the same file is the first import, and its second copy of the file is removed again (another
    file under that key: 422, its copy removed). The tenant's plan
    (the token's `plan` claim) bounds the imports of a calendar month (403 plan-limit `imports_per_month`)."""
    if not (idempotency_key and idempotency.earlier(Import, key=idempotency_key, by=by)):  # a replay is no new import
        plans.require_room(by.claims, "imports_per_month", imports_this_month(by.tenant_id))
        # storage_mb counts the uploaded files kept (the largest part of a tenant's data); refused before storing
        plans.require_room(by.claims, "storage_mb",
                           (stored_bytes(by.tenant_id) + (upload.size or 0)) / 2 ** 20 - 1e-9)
    import_id = uuid.uuid4()
    folder = f"{by.tenant_id}/{import_id}"
    key = f"{folder}/{storage.safe_name(upload.name)}"
    size, digest = uploads().put(key, upload)
    fields = {"athlete": athlete.pk, "format": format_hint or "", "modality": modality or "", "sha256": digest}
    try:
        imp, created = idempotency.create_once(
            Import, by=by, key=idempotency_key, fields=fields,
            create=lambda extra: Import.objects.create(
                id=import_id, tenant_id=by.tenant_id, athlete=athlete, file_key=key,
                filename=(upload.name or "upload")[:255], size_bytes=size, sha256=digest,
                format_hint=format_hint or "", modality=modality or "", created_by=by.user_id, **extra))
    except BaseException:
        uploads().delete_prefix(folder)  # no import row, no file
        raise
    if not created:
        uploads().delete_prefix(folder)
    return imp, created


def request_rerun(imp: Import) -> Import:
    """Run the stored file through the pipeline again (e.g. after a reader fix): the job's next generation."""
    imp = jobs.lock(Import, imp.pk)
    if not imp.finished:
        raise ProblemError(409, "import-running",
                           f"The import is {imp.public_status}; re-run it once it is done or failed.")
    if not uploads().exists(imp.file_key):
        raise ProblemError(409, "file-gone", "The uploaded file is no longer stored; upload it again.")
    jobs.rerun(imp)
    return imp


# ---- the job's steps (called by pipeline.py, on the locked row, in its transactions) -------------------------------

def _progressed(imp: Import) -> None:
    """measurements.import.progressed: the stage the job just took (notifications shows it live to the uploader)."""
    events.emit(events.IMPORT_PROGRESSED, {
        "import_id": str(imp.pk), "athlete_id": str(imp.athlete_id),
        "imported_by": str(imp.created_by) if imp.created_by else None, "stage": str(imp.stage)[:20],
        "progress": int(imp.progress), "generation": int(imp.generation),
    }, tenant_id=imp.tenant_id, subject=str(imp.pk))


def claim(imp: Import) -> None:
    """A task run takes the job up: one more attempt; a generation not stored yet starts by parsing."""
    needs_store = imp.stored_generation < imp.generation
    stage = Stage.PARSING if needs_store else (imp.stage or Stage.ANALYZING)
    jobs.start(imp, stage, progress=PROGRESS[stage])
    _progressed(imp)


def set_stage(imp: Import, stage: str) -> None:
    jobs.advance(imp, stage, progress=PROGRESS[stage])
    _progressed(imp)


def stored(imp: Import, test, *, detected_format: str, warnings: list[dict]) -> None:
    """This generation's samples are stored in `test`; the result comes next. `warnings`: the reader's, each
    {code, params, message} (warning_details.reader_warnings)."""
    jobs.advance(imp, Stage.ANALYZING, progress=PROGRESS[Stage.ANALYZING], test=test,
                 stored_generation=imp.generation, detected_format=detected_format,
                 warnings=[w["message"] for w in warnings], warning_details=warnings)
    _progressed(imp)


def forget_test(imp: Import) -> None:
    """The test this generation stored is dropped again (nothing half-way); the upload stays for a re-run."""
    jobs.advance(imp, imp.stage, test=None, stored_generation=0)


def done(imp: Import, warnings: list[dict] | None = None) -> None:
    """Finished; `warnings` found by the analysis (e.g. the file's athlete is not the one on record), each
    {code, params, message}, join the reader's."""
    extra = [w for w in (warnings or []) if w["message"] not in (imp.warnings or [])]
    fields = {"warnings": [*(imp.warnings or []), *(w["message"] for w in extra)],
              "warning_details": [*warning_details.of(imp), *extra]} if extra else {}
    jobs.finish(imp, analyzed_generation=imp.generation, **fields)


def fail(imp: Import, stage: str, problem: dict) -> None:
    """The import failed at `stage`; `problem` is a problem object (the analysis service's, when it answered).
    measurements.import.failed tells the uploader (notifications) and the tenant's webhooks, with the reason."""
    jobs.fail(imp, problem, stage=stage)
    events.emit(events.IMPORT_FAILED, {
        "import_id": str(imp.pk), "athlete_id": str(imp.athlete_id), "test_id": str(imp.test_id) if imp.test_id else None,
        "filename": (imp.filename or "")[:300], "imported_by": str(imp.created_by) if imp.created_by else None,
        "stage": str(stage)[:50], "error_code": str(problem.get("type") or "import-failed").rsplit(":", 1)[-1][:100],
        "detail": str(problem.get("detail") or "")[:2000], "athlete_name": str(imp.athlete)[:300],
    }, tenant_id=imp.tenant_id, subject=str(imp.pk))


# ---- files follow their import's deletion -------------------------------------------------------------------------

def _remove_files_after_commit(imports) -> None:
    folders = [imp.folder for imp in imports]
    if folders:
        store = uploads()
        transaction.on_commit(lambda: [store.delete_prefix(folder) for folder in folders])


@test_actions.before_test_deleted
def _remove_the_tests_uploads(test, by, reason) -> None:
    _remove_files_after_commit(Import.objects.filter(test=test).only("id", "tenant_id"))


@athlete_actions.before_athlete_deleted
def _remove_the_athletes_uploads(athlete, by) -> None:
    _remove_files_after_commit(Import.objects.filter(athlete=athlete).only("id", "tenant_id"))


# ---- retention of uploaded files (a periodic job) -----------------------------------------------------------------

@transaction.atomic
def set_upload_retention(tenant_id, days: int | None, *, by: str | None) -> UploadRetention:
    # as results.actions.save_settings: a concurrent first write finds the other's row instead of a 500
    row, _ = UploadRetention.objects.select_for_update().get_or_create(tenant_id=tenant_id)
    row.days, row.updated_by = days, by
    row.save()
    return row


def remove_expired_uploads(batch: int = 500) -> int:
    """Every tenant with a retention period: the uploaded files of imports older than it go (the import row stays,
    marked `file_removed_at`; tests, samples and results stay). The tenants are the first parts of the stored keys
    (the tables are under row-level security, so they are not listed across tenants); each one is handled in its own
    tenant transaction, the file deleted after the row is marked. Idempotent: a removed file is not selected again,
    and deleting a missing file is no error. Returns the number of uploads removed."""
    from datetime import timedelta

    from servicekit.tenancy import tenant_transaction

    store, removed = uploads(), 0
    for tenant_id in store.prefixes():
        try:
            uuid.UUID(tenant_id)
        except ValueError:
            continue  # not a tenant's folder
        with tenant_transaction(tenant_id):
            days = UploadRetention.objects.filter(tenant_id=tenant_id).values_list("days", flat=True).first()
            if not days:
                continue
            cutoff = timezone.now() - timedelta(days=days)
            expired = list(Import.objects.filter(tenant_id=tenant_id, created_at__lt=cutoff,
                                                 file_removed_at__isnull=True).order_by("created_at")[:batch])
            now = timezone.now()
            for imp in expired:
                imp.file_removed_at = now
                imp.save(update_fields=["file_removed_at", "updated_at"])
            _remove_files_after_commit(expired)
            removed += len(expired)
    return removed
