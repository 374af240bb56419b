"""Rendering a report in the background: idempotent, so a redelivered task (late ack, a killed worker) runs once
in effect and leaves exactly one file.

    queued → rendering (10) → data fetched (50) → rendered (80) → stored (95) → done (100) + reports.report.ready
                                                                              ↘ failed + reports.report.failed
Enqueuing lives here too (render_later); the status changes are actions (documents/actions.py), made on the row
this module holds locked. A report already `done` with its file present is left alone. The file key is fixed per report and written
atomically, so a run killed at any point and run again replaces, never adds. Transient upstream failures
(measurements or identity down) raise `Transient` and the Celery task retries with backoff; after
REPORT_MAX_RETRIES the report fails with the reason.
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid

from celery.signals import worker_process_init
from django.conf import settings
from django.db import transaction

from servicekit.tenancy import tenant_transaction

from .. import rendering
from ..celery import app
from . import actions, assemble, clients
from .models import Report
from .storage import get_storage, report_key

log = logging.getLogger(__name__)


class Transient(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def render_later(report: Report) -> None:
    """Hand a new report to the renderer once the request's (or the event's) transaction has committed."""
    if settings.REPORT_DISPATCH == "none":
        return
    report_id, tenant_id = str(report.id), str(report.tenant_id)
    transaction.on_commit(lambda: render_report_task.delay(report_id, tenant_id))


def _set_progress(tenant_id, report_id, progress: int, **fields) -> None:
    with tenant_transaction(tenant_id):
        report = Report.objects.select_for_update().filter(pk=report_id).first()
        if report is not None and report.status not in (Report.Status.DONE, Report.Status.FAILED):
            actions.record_progress(report, progress, **fields)


def _fail(tenant_id, report_id, code: str, detail: str) -> None:
    with tenant_transaction(tenant_id):
        report = Report.objects.select_for_update().filter(pk=report_id).first()
        if report is not None and report.status != Report.Status.DONE:
            actions.mark_failed(report, code, detail)
    log.warning("report %s failed: %s: %s", report_id, code, detail, extra={"tenant_id": str(tenant_id)})


def count_pages(pdf: bytes) -> int | None:
    """Page objects in the PDF (reportlab writes no object streams, so each page dictionary is plain text)."""
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf)) or None


def render(report_id: str, tenant_id: str, *, final_attempt: bool = True) -> str:
    """Do the work for one report; returns its final status. Raises Transient when a retry may help (and this is
    not the final attempt)."""
    report_id, tenant_id = str(uuid.UUID(str(report_id))), str(uuid.UUID(str(tenant_id)))
    storage = get_storage()
    with tenant_transaction(tenant_id):
        report = Report.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            log.warning("report %s of tenant %s does not exist; nothing to do", report_id, tenant_id)
            return "missing"
        if report.status == Report.Status.DONE and report.file_path and storage.exists(report.file_path):
            return report.status  # a redelivery after the work was done
        if report.status == Report.Status.FAILED:
            return report.status
        actions.start_rendering(report)
        test_id, language, template = str(report.test_id), report.language, report.template
    started = time.perf_counter()
    try:
        data, who = assemble.collect(clients.measurements(), tenant_id, test_id)
    except clients.NotFound as exc:
        _fail(tenant_id, report_id, "test-not-found", f"measurements has no such test or athlete ({exc.detail})")
        return Report.Status.FAILED
    except clients.Unavailable as exc:
        if not final_attempt:
            raise Transient(exc.detail) from exc
        _fail(tenant_id, report_id, "measurements-unavailable", exc.detail)
        return Report.Status.FAILED
    except clients.Refused as exc:
        _fail(tenant_id, report_id, "measurements-refused", exc.detail)
        return Report.Status.FAILED
    if not data.result:
        _fail(tenant_id, report_id, "no-analysis", "the test has no stored analysis yet")
        return Report.Status.FAILED
    fields = {}
    for name in ("athlete_id", "athlete_user_id"):
        try:
            fields[name] = uuid.UUID(str(who[name])) if who.get(name) else None
        except ValueError:
            fields[name] = None
    _set_progress(tenant_id, report_id, 50, **fields)
    try:
        pdf = rendering.render_report(data, language, template)
    except rendering.FontMissing as exc:
        _fail(tenant_id, report_id, "font-missing", str(exc))
        return Report.Status.FAILED
    except Exception as exc:  # a bug or data the renderer cannot print: the report fails with the reason
        log.exception("rendering report %s failed", report_id)
        _fail(tenant_id, report_id, "render-error", f"{type(exc).__name__}: {exc}")
        return Report.Status.FAILED
    _set_progress(tenant_id, report_id, 80)
    key = report_key(tenant_id, report_id)
    storage.save(key, pdf)
    sha = hashlib.sha256(pdf).hexdigest()
    pages = count_pages(pdf)
    with tenant_transaction(tenant_id):
        report = Report.objects.select_for_update().get(pk=report_id)
        if report.status == Report.Status.DONE:
            return report.status  # a concurrent duplicate finished first; the file is the same key
        actions.mark_done(report, file_path=key, sha256=sha, size=len(pdf), pages=pages)
    log.info("report %s rendered in %.0f ms (%d bytes)", report_id, (time.perf_counter() - started) * 1000,
             len(pdf), extra={"tenant_id": tenant_id})
    return Report.Status.DONE


@worker_process_init.connect
def _warm_fonts(**_):
    """Parse the TTF fonts once per worker process, not in the first report's time."""
    rendering.fonts.register()


@app.task(bind=True, name="reports.render_report", max_retries=None)  # late ack, reject on worker lost: the kit's
def render_report_task(self, report_id: str, tenant_id: str) -> str:
    retries = settings.REPORT_MAX_RETRIES
    try:
        return render(report_id, tenant_id, final_attempt=self.request.retries >= retries)
    except Transient as exc:
        raise self.retry(countdown=min(2 ** self.request.retries, 60), exc=exc)
