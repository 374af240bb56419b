"""Writes of imports: accept an upload (file stored, row created, job queued), stage/progress changes, failure,
re-run. The pipeline (pipeline.py) calls these; nothing else writes an import."""
from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from servicekit.principal import Principal
from servicekit.problems import ProblemError

from ..infra.storage import get_storage
from . import dispatch
from .models import Import

S = Import.Status
PROGRESS = {S.QUEUED: 0, S.PARSING: 10, S.STORING: 40, S.ANALYZING: 70, S.DONE: 100}


def accept_upload(by: Principal, athlete, upload, *, format_hint: str = "", modality: str = "",
                  idempotency_key: str | None = None) -> tuple[Import, bool]:
    """Store the file, create the import, queue the job after commit. Returns (import, created?)."""
    import_id = uuid.uuid4()
    storage = get_storage()
    key, size, digest = storage.save(by.tenant_id, str(import_id), upload.name or "upload", upload)
    try:
        with transaction.atomic():  # a savepoint: a concurrent request with the same key may have won
            imp = Import.objects.create(
                id=import_id, tenant_id=by.tenant_id, athlete=athlete, idempotency_key=idempotency_key,
                file_key=key, filename=(upload.name or "upload")[:255], size_bytes=size, sha256=digest,
                format_hint=format_hint or "", modality=modality or "", created_by=by.user_id)
    except IntegrityError:
        storage.delete_folder(by.tenant_id, str(import_id))
        existing = Import.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    dispatch.enqueue(imp)
    return imp, True


def request_rerun(imp: Import) -> Import:
    """Run the stored file through the pipeline again (e.g. after a reader fix); a new generation of the job."""
    imp = Import.objects.select_for_update().get(pk=imp.pk)
    if imp.status not in (S.DONE, S.FAILED):
        raise ProblemError(409, "import-running", f"The import is {imp.status}; re-run it once it is done or failed.")
    if not get_storage().exists(imp.file_key):
        raise ProblemError(409, "file-gone", "The uploaded file is no longer stored; upload it again.")
    imp.generation += 1
    imp.status, imp.progress, imp.error, imp.finished_at = S.QUEUED, 0, None, None
    imp.save()
    dispatch.enqueue(imp)
    return imp


def set_stage(imp: Import, status: str, **fields) -> None:
    fields = {"status": status, "progress": PROGRESS.get(status, imp.progress), "updated_at": timezone.now(),
              **fields}
    if status in (S.DONE, S.FAILED):
        fields["finished_at"] = timezone.now()
    Import.objects.filter(pk=imp.pk).update(**fields)
    for name, value in fields.items():
        setattr(imp, name, value)


def fail(imp: Import, stage: str, problem: dict) -> None:
    """The import failed at `stage`; `problem` is a problem object (the analysis service's, when it answered)."""
    error = {k: problem.get(k) for k in ("type", "title", "status", "detail", "errors") if problem.get(k) is not None}
    error["stage"] = stage
    set_stage(imp, S.FAILED, error=error)
