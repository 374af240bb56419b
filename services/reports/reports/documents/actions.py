"""Every write to reports: requests (views, the consumer), settings, and each status change the renderer makes
(documents/tasks.py locks the row and calls these; it saves nothing itself)."""
from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.db.models import Q

from servicekit import erasure, jobs
from servicekit.django.idempotency import create_once
from servicekit.events import publish
from servicekit.problems import problem

from .. import events
from .models import FORMATS, ErasedSubject, Report, ReportSettings, report_files, report_key

log = logging.getLogger(__name__)
NIL_UUID = "00000000-0000-0000-0000-000000000000"  # "the system" in events whose contract wants a user id
STAGE = "rendering"  # the renderer's one stage: what a client sees as the status while it runs
# the problem status each failure is filed under (the reason travels in `detail`)
FAILURE_STATUS = {"test-not-found": 404, "no-analysis": 422, "test-not-analysable": 422,
                  "measurements-unavailable": 503, "measurements-refused": 502, "storage-full": 507}
BRANDING = ("lab_name", "lab_address", "lab_contact", "accent_color")


def request_report(*, tenant_id, test_id, language: str, template: str, requested_by: str = "",
                   idempotency_key: str | None = None, auto: bool = False, format: str = "pdf",
                   conclusion: str = "") -> tuple[Report, bool]:
    """A queued report (created=True) or, for a repeated Idempotency-Key, the one made the first time. The caller
    hands a created report to the renderer (tasks.render_later)."""
    # A user's keys are theirs; automatic reports share one scope (the key names the test revision).
    scope = {"auto": True} if auto else {"requested_by": requested_by or "", "auto": False}
    return create_once(
        Report, by=None, key=idempotency_key or None, scope=scope, tenant_id=tenant_id,
        fields={"test": str(test_id), "language": language, "template": template, "format": format,
                "conclusion": conclusion or ""},
        create=lambda extra: Report.objects.create(tenant_id=tenant_id, test_id=test_id, language=language,
                                                   template=template, requested_by=requested_by or "", auto=auto,
                                                   format=format, conclusion=conclusion or "", **extra))


def settings_for_tenant(tenant_id) -> ReportSettings:
    row = ReportSettings.objects.first()
    if row is None:
        row = ReportSettings(tenant_id=tenant_id)
    return row


def _settings_row(tenant_id) -> ReportSettings:
    """The tenant's settings row, locked until the request commits; made at the first write. Two first writes at
    once: the second insert waits on the one-per-tenant constraint, fails, and get_or_create reads the first's row
    (a plain insert would answer the second with a 500)."""
    row, _ = ReportSettings.objects.select_for_update().get_or_create(tenant_id=tenant_id)
    return row


@transaction.atomic
def save_settings(tenant_id, **fields) -> ReportSettings:
    row = _settings_row(tenant_id)
    for name in ("auto_report", "language", "template", *BRANDING):
        if name in fields:
            setattr(row, name, fields[name])
    row.save()
    return row


@transaction.atomic
def save_logo(tenant_id, png: bytes | None) -> ReportSettings:
    """The lab's logo (a PNG the API has checked), or none."""
    row = _settings_row(tenant_id)
    row.logo_png = png
    row.save()
    return row


# ---- status changes made by the renderer (on a row it holds locked: servicekit.jobs.lock) --------------------------


def _user_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return NIL_UUID


def _progressed(report: Report) -> None:
    """reports.report.progressed, for the requester's live stream (an automatic report has nobody to show it to)."""
    requested_by = _user_uuid(report.requested_by)
    if requested_by == NIL_UUID:
        return
    publish(events.REPORT_PROGRESSED, {"report_id": str(report.id), "test_id": str(report.test_id),
                                        "requested_by": requested_by, "stage": STAGE, "progress": int(report.progress),
                                        "generation": int(report.generation)},
            tenant_id=report.tenant_id, subject=str(report.id))


def start_rendering(report: Report) -> None:
    jobs.start(report, STAGE, progress=10)
    _progressed(report)


def record_progress(report: Report, progress: int, **fields) -> None:
    """Progress only grows; `fields`: what the renderer learnt on the way (athlete_id, athlete_user_id)."""
    before = report.progress
    jobs.advance(report, STAGE, progress=progress, **fields)
    if report.progress > before:
        _progressed(report)


def mark_done(report: Report, *, file_path: str, sha256: str, size: int, pages: int | None) -> None:
    jobs.finish(report, file_path=file_path, sha256=sha256, size_bytes=size, pages=pages)
    data = {"report_id": str(report.id), "test_id": str(report.test_id), "language": report.language,
            "template": report.template, "requested_by": _user_uuid(report.requested_by), "auto": report.auto,
            "size_bytes": size, "download_path": f"/api/v1/reports/{report.id}/file"}
    if report.athlete_id:
        data["athlete_id"] = str(report.athlete_id)
    if pages:
        data["pages"] = pages
    publish(events.REPORT_READY, data, tenant_id=report.tenant_id, subject=str(report.id))


def mark_failed(report: Report, code: str, detail: str) -> None:
    code, detail = code[:100], detail[:2000]
    jobs.fail(report, problem(FAILURE_STATUS.get(code, 500), code, detail, title="Report failed"), stage=STAGE)
    data = {"report_id": str(report.id), "test_id": str(report.test_id), "language": report.language,
            "requested_by": _user_uuid(report.requested_by), "error_code": code, "detail": detail,
            "auto": report.auto}
    if report.athlete_id:
        data["athlete_id"] = str(report.athlete_id)
    publish(events.REPORT_FAILED, data, tenant_id=report.tenant_id, subject=str(report.id))


# ---- erasure (GDPR): a deleted test's, athlete's or tenant's reports go, with their files -------------------------

def _erase(tenant_id, reports, subject_ids=()) -> dict:
    rows = list(reports.only("id", "tenant_id", "file_path", "test_id", "athlete_id"))
    # every key a report may have (a render in flight writes its file before the row says so)
    keys = {r.file_path for r in rows if r.file_path} | {report_key(tenant_id, r.pk, f) for r in rows for f, _ in FORMATS}
    deleted, _ = Report.objects.filter(pk__in=[r.pk for r in rows]).delete()
    named = {str(v) for r in rows for v in (r.pk, r.test_id, r.athlete_id) if v} | {str(i) for i in subject_ids if i}
    # its events: sent ones copied it, a report-ready not relayed yet would copy it on, a dead letter (an analysis
    # reports gave up on) holds its results
    forgotten = erasure.forget_events(tenant_id, named)
    if keys:
        files = report_files()
        transaction.on_commit(lambda: [files.delete(k) for k in keys])
    return {"reports": deleted, "files": len([r for r in rows if r.file_path]), **forgotten}


def is_erased(*, test_id=None, athlete_id=None) -> bool:
    """Whether reports erased that test or athlete (a late event must not make a report for it again)."""
    return erasure.is_buried(ErasedSubject, test_id=test_id, athlete_id=athlete_id)


def erase_test(tenant_id, test_id, request_event_id=None) -> dict:
    """`measurements.test.deleted`: the test's reports and files; confirmed in the same transaction."""
    removed = _erase(tenant_id, Report.objects.filter(test_id=test_id), [test_id])
    erasure.bury(ErasedSubject, tenant_id, "test", test_id)
    erasure.confirm(events.DELETION_CONFIRMED, scope="test", subject_id=test_id, tenant_id=tenant_id,
                    removed=removed, request_event_id=request_event_id)
    return removed


def erase_athlete(tenant_id, athlete_id, test_ids, request_event_id=None) -> dict:
    """`measurements.athlete.deleted`: every report of the athlete or of one of its tests (a report not rendered
    yet knows only its test), with the files; confirmed in the same transaction."""
    removed = _erase(tenant_id, Report.objects.filter(Q(athlete_id=athlete_id) | Q(test_id__in=list(test_ids))),
                     [athlete_id, *test_ids])
    erasure.bury(ErasedSubject, tenant_id, "athlete", athlete_id, tests=test_ids)
    erasure.confirm(events.DELETION_CONFIRMED, scope="athlete", subject_id=athlete_id, tenant_id=tenant_id,
                    removed=removed, request_event_id=request_event_id)
    return removed


def erase_tenant(tenant_id, request_event_id=None) -> dict:
    """`identity.tenant.deleted`: every row reports holds for the tenant (reports, settings with the logo) and,
    once committed, every file under the tenant's folder; confirmed in the same transaction."""
    removed = erasure.erase_tenant(tenant_id, dead_letters=True)
    files = report_files()
    transaction.on_commit(lambda: files.delete_prefix(str(tenant_id)))
    erasure.confirm(events.DELETION_CONFIRMED, scope="tenant", subject_id=tenant_id, tenant_id=tenant_id,
                    removed=removed, request_event_id=request_event_id)


# ---- reports of deleted tests (a periodic job, until measurements' deletions reach reports as events) -------------

def remove_reports_of_deleted_tests(batch: int = 200) -> int:
    """Every tenant with report files (the first parts of the stored keys: the table is under row-level security):
    up to `batch` of its tests that have reports, in random order so that successive runs cover them all, are asked
    of measurements (service token); a test it no longer has (404) loses its reports, rows and files. Files no
    report row names (a row deleted another way) go too. Idempotent: what is gone is not found again; measurements
    unreachable leaves everything as it is for the next run. Returns the number of reports removed.
    Another engineer's event-driven deletion (measurements' test deletion as an event) will make this a safety net."""
    from servicekit import http
    from servicekit.tenancy import tenant_transaction

    from . import clients
    from .models import report_files

    files, removed = report_files(), 0
    for tenant_id in list(files.prefixes()):
        try:
            uuid.UUID(tenant_id)
        except ValueError:
            continue
        with tenant_transaction(tenant_id):
            tests = list(Report.objects.filter(tenant_id=tenant_id).order_by("?")
                         .values_list("test_id", flat=True).distinct()[:batch])
            rows = set(map(str, Report.objects.filter(tenant_id=tenant_id).values_list("id", flat=True)))
        gone = []
        for test_id in tests:
            try:
                if clients.measurements().get(tenant_id, f"/api/v1/tests/{test_id}/", missing_ok=True) is None:
                    gone.append(test_id)
            except http.Unavailable:
                log.warning("measurements unavailable: reports of deleted tests checked next time")
                return removed
        with tenant_transaction(tenant_id):
            doomed = list(Report.objects.filter(tenant_id=tenant_id, test_id__in=gone))
            keys = [r.file_path for r in doomed if r.file_path]
            removed += Report.objects.filter(pk__in=[r.pk for r in doomed]).delete()[0]
        for key in keys:  # after the rows' commit: a file is never named by a row that still exists
            files.delete(key)
        for key in files.keys(tenant_id):  # `<tenant>/<report id>.<format>`: a file whose report row is gone
            if key not in keys and key.rsplit("/", 1)[-1].split(".", 1)[0] not in rows:
                files.delete(key)  # (one being rendered has its row already: it is kept)
    return removed
