"""How an accepted (or re-run) import reaches the pipeline, after the transaction that created it commits.

IMPORT_DISPATCH: "celery" (default: the service's own queue, a worker runs it), "inline" (the web process runs it
right after the commit: tests and a one-process lab), "none" (the caller runs pipeline.run_import itself).
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)


def enqueue(imp) -> None:
    import_id, tenant_id = str(imp.pk), str(imp.tenant_id)
    mode = settings.IMPORT_DISPATCH
    if mode == "none":
        return
    if mode == "inline":
        transaction.on_commit(lambda: _run_inline(import_id, tenant_id))
        return

    def send():
        from .tasks import run_import_task

        run_import_task.apply_async(args=[import_id, tenant_id], queue=settings.CELERY_QUEUE)

    transaction.on_commit(send)


def _run_inline(import_id: str, tenant_id: str) -> None:
    from . import pipeline

    try:
        pipeline.run_import_reporting_unavailable(import_id, tenant_id)
    except Exception:  # the upload was accepted (202); the import's status tells the rest
        log.exception("import %s failed unexpectedly", import_id, extra={"tenant_id": tenant_id})
        pipeline.fail_unexpectedly(import_id, tenant_id)
