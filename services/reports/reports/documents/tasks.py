"""Rendering a report in the background, as a kit job (servicekit.jobs): idempotent, so a redelivered task (late
ack, a killed worker) runs once in effect and leaves exactly one file.

    queued → rendering (10) → data fetched (50) → rendered (80) → stored (95) → done (100) + reports.report.ready
                                                                              ↘ failed + reports.report.failed
Enqueuing lives here too (render_later); the status changes are actions (documents/actions.py), made on the row
this module holds locked. A report already `done` with its file present is left alone. The file key is fixed per
report and written atomically, so a run killed at any point and run again replaces, never adds. Passing upstream
failures (measurements or identity down) raise `jobs.RetryLater` and the task retries with backoff; the final
attempt (REPORT_MAX_RETRIES) fails the report with the reason.
"""
from __future__ import annotations

import errno
import logging
import re
import time
import uuid

from celery.signals import worker_process_init
from django.conf import settings
from django.db import transaction

from servicekit import http, jobs, periodic
from servicekit.metrics import Timer
from servicekit.tenancy import tenant_transaction

from .. import rendering
from ..celery import app
from . import actions, assemble, clients
from .metrics import RENDER_DURATION
from .models import Report, report_files, report_key

log = logging.getLogger(__name__)


def _set_progress(tenant_id, report_id, progress: int, **fields) -> None:
    with tenant_transaction(tenant_id):
        report = jobs.lock(Report, report_id)
        if report is not None and not report.finished:
            actions.record_progress(report, progress, **fields)


def _fail(tenant_id, report_id, code: str, detail: str) -> str:
    with tenant_transaction(tenant_id):
        report = jobs.lock(Report, report_id)
        if report is not None and report.status != Report.Status.DONE:
            actions.mark_failed(report, code, detail)
    log.warning("report %s failed: %s: %s", report_id, code, detail, extra={"tenant_id": str(tenant_id)})
    return Report.Status.FAILED


def count_pages(pdf: bytes) -> int | None:
    """Page objects in the PDF (reportlab writes no object streams, so each page dictionary is plain text)."""
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf)) or None


def _render(report_id: str, tenant_id: str) -> str:
    """One attempt at one report; returns its final status. Raises jobs.RetryLater when measurements or identity
    cannot answer now."""
    report_id, tenant_id = str(uuid.UUID(str(report_id))), str(uuid.UUID(str(tenant_id)))
    files = report_files()
    with tenant_transaction(tenant_id):
        report = jobs.lock(Report, report_id)
        if report is None:
            log.warning("report %s of tenant %s does not exist; nothing to do", report_id, tenant_id)
            return "missing"
        if report.status == Report.Status.DONE and report.file_path and files.exists(report.file_path):
            return report.status  # a redelivery after the work was done
        if report.status == Report.Status.FAILED:
            return report.status
        actions.start_rendering(report)
        test_id, language, template = str(report.test_id), report.language, report.template
        fmt, conclusion = report.format or "pdf", report.conclusion or None
        branding = branding_of(actions.settings_for_tenant(tenant_id))
    if not branding.lab_name:  # the default header names the lab: the tenant's own name at identity
        branding.lab_name = clients.identity().tenant_name(tenant_id)
    started = time.perf_counter()
    try:
        data, who = assemble.collect(clients.measurements(), tenant_id, test_id, branding=branding,
                                     conclusion=conclusion)
    except http.NotFound as exc:
        return _fail(tenant_id, report_id, "test-not-found", f"measurements has no such test or athlete ({exc.detail})")
    except http.Unavailable as exc:
        raise jobs.RetryLater(exc.detail) from exc
    except http.Refused as exc:
        return _fail(tenant_id, report_id, "measurements-refused", exc.detail)
    if not data.result:
        return _fail(tenant_id, report_id, "no-analysis", "the test has no stored analysis yet")
    if not who.get("usable", True):
        return _fail(tenant_id, report_id, "test-not-analysable",
                     "the test's stored result is insufficient: it cannot yield the numbers a report prints")
    fields = {}
    for name in ("athlete_id", "athlete_user_id"):
        try:
            fields[name] = uuid.UUID(str(who[name])) if who.get(name) else None
        except ValueError:
            fields[name] = None
    _set_progress(tenant_id, report_id, 50, **fields)
    try:
        with Timer(RENDER_DURATION.labels(fmt, template)):
            pdf = (rendering.render_docx(data, language, template) if fmt == "docx"
                   else rendering.render_report(data, language, template))
    except rendering.FontMissing as exc:
        return _fail(tenant_id, report_id, "font-missing", str(exc))
    except Exception as exc:  # a bug or data the renderer cannot print: the report fails with the reason
        log.exception("rendering report %s failed", report_id)
        return _fail(tenant_id, report_id, "render-error", f"{type(exc).__name__}: {exc}")
    _set_progress(tenant_id, report_id, 80)
    key = report_key(tenant_id, report_id, fmt)
    try:
        size, sha = files.put(key, pdf)  # a temporary file renamed into place: a failed write leaves no file
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        return _fail(tenant_id, report_id, "storage-full",
                     f"no space left to store the report file ({exc.strerror}); ask for it again once space is freed")
    pages = count_pages(pdf) if fmt == "pdf" else None
    with tenant_transaction(tenant_id):
        report = jobs.lock(Report, report_id)
        if report is None:  # erased while it rendered (its test or athlete deleted): no file left behind
            transaction.on_commit(lambda: files.delete(key))
            return "missing"
        if report.status == Report.Status.DONE:
            return report.status  # a concurrent duplicate finished first; the file is the same key
        actions.mark_done(report, file_path=key, sha256=sha, size=size, pages=pages)
    log.info("report %s rendered in %.0f ms (%d bytes)", report_id, (time.perf_counter() - started) * 1000,
             size, extra={"tenant_id": tenant_id})
    return Report.Status.DONE


def branding_of(row) -> rendering.Branding:
    return rendering.Branding(lab_name=row.lab_name or None, lab_address=row.lab_address or None,
                              lab_contact=row.lab_contact or None, accent_color=row.accent_color or None,
                              logo_png=bytes(row.logo_png) if row.logo_png else None)


def _give_up(report_id, tenant_id, *, reason: str) -> str:
    return _fail(tenant_id, report_id, "measurements-unavailable", reason)


def _crashed(report_id, tenant_id) -> None:
    _fail(tenant_id, report_id, "render-error", "the renderer stopped on an unexpected error")


render = jobs.background_job(app, "reports.render_report", max_retries=settings.REPORT_MAX_RETRIES,
                             give_up=_give_up, crashed=_crashed, dispatch_setting="REPORT_DISPATCH")(_render)


def render_later(report: Report) -> None:
    """Hand a new report to the renderer once the request's (or the event's) transaction has committed."""
    render.enqueue(str(report.id), str(report.tenant_id))


@worker_process_init.connect
def _warm_fonts(**_):
    """Parse the TTF fonts once per worker process, not in the first report's time."""
    rendering.fonts.register()


@periodic.job("reports.files.remove_of_deleted_tests")
def remove_reports_of_deleted_tests() -> int:
    """Periodic (reports' beat): reports, and their files, of tests measurements no longer has."""
    return actions.remove_reports_of_deleted_tests()
