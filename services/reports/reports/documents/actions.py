"""Every write to reports: requests (views, the consumer), settings, and each status change the renderer makes
(documents/tasks.py locks the row and calls these; it saves nothing itself)."""
from __future__ import annotations

import hashlib
import json
import logging
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from servicekit.events import publish
from servicekit.problems import ProblemError

from .. import events

from .models import Report, ReportSettings

log = logging.getLogger(__name__)
NIL_UUID = "00000000-0000-0000-0000-000000000000"  # "the system" in events whose contract wants a user id


def fingerprint(test_id, language: str, template: str) -> str:
    body = json.dumps({"test": str(test_id), "language": language, "template": template}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def request_report(*, tenant_id, test_id, language: str, template: str, requested_by: str = "",
                   idempotency_key: str | None = None, auto: bool = False) -> tuple[Report, bool]:
    """A queued report (created=True) or, for a repeated Idempotency-Key, the one made the first time. The caller
    hands a created report to the renderer (tasks.render_later)."""
    fp = fingerprint(test_id, language, template)
    key = idempotency_key or None
    # A user's keys are theirs; automatic reports share one scope (the key names the test revision).
    scope = {"auto": True} if auto else {"requested_by": requested_by or "", "auto": False}
    if key:
        existing = Report.objects.filter(idempotency_key=key, **scope).first()
        if existing is not None:
            if existing.request_fingerprint != fp:
                raise ProblemError(409, "idempotency-key-reused",
                                   "This Idempotency-Key was used for a different request.")
            return existing, False
    try:
        with transaction.atomic():
            report = Report.objects.create(tenant_id=tenant_id, test_id=test_id, language=language, template=template,
                                           requested_by=requested_by or "", idempotency_key=key,
                                           request_fingerprint=fp, auto=auto)
    except IntegrityError:  # a concurrent request with the same key won the race
        existing = Report.objects.filter(idempotency_key=key, **scope).first()
        if existing is None:
            raise
        if existing.request_fingerprint != fp:
            raise ProblemError(409, "idempotency-key-reused", "This Idempotency-Key was used for a different request.")
        return existing, False
    return report, True


def settings_for_tenant(tenant_id) -> ReportSettings:
    row = ReportSettings.objects.first()
    if row is None:
        row = ReportSettings(tenant_id=tenant_id)
    return row


def save_settings(tenant_id, **fields) -> ReportSettings:
    row = ReportSettings.objects.first() or ReportSettings(tenant_id=tenant_id)
    for name in ("auto_report", "language", "template"):
        if name in fields:
            setattr(row, name, fields[name])
    row.save()
    return row


# ---- status changes made by the renderer (on a row it holds locked) -------------------------------------------------


def start_rendering(report: Report) -> None:
    report.status, report.progress = Report.Status.RENDERING, max(report.progress, 10)
    report.attempts += 1
    report.save()


def record_progress(report: Report, progress: int, **fields) -> None:
    """Progress only grows; `fields`: what the renderer learnt on the way (athlete_id, athlete_user_id)."""
    report.progress = max(report.progress, progress)
    for name, value in fields.items():
        setattr(report, name, value)
    report.save()


def _user_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return NIL_UUID


def mark_done(report: Report, *, file_path: str, sha256: str, size: int, pages: int | None) -> None:
    report.status, report.progress = Report.Status.DONE, 100
    report.file_path, report.sha256, report.size_bytes, report.pages = file_path, sha256, size, pages
    report.error_code, report.error = "", ""
    report.finished_at = timezone.now()
    report.save()
    data = {"report_id": str(report.id), "test_id": str(report.test_id), "language": report.language,
            "template": report.template, "requested_by": _user_uuid(report.requested_by), "auto": report.auto,
            "size_bytes": size, "download_path": f"/api/v1/reports/{report.id}/file"}
    if report.athlete_id:
        data["athlete_id"] = str(report.athlete_id)
    if pages:
        data["pages"] = pages
    publish(events.REPORT_READY, data, tenant_id=report.tenant_id, subject=str(report.id))


def mark_failed(report: Report, code: str, detail: str) -> None:
    report.status = Report.Status.FAILED
    report.error_code, report.error = code[:100], detail[:2000]
    report.finished_at = timezone.now()
    report.save()
    data = {"report_id": str(report.id), "test_id": str(report.test_id), "language": report.language,
            "requested_by": _user_uuid(report.requested_by), "error_code": code[:100], "detail": detail[:2000],
            "auto": report.auto}
    if report.athlete_id:
        data["athlete_id"] = str(report.athlete_id)
    publish(events.REPORT_FAILED, data, tenant_id=report.tenant_id, subject=str(report.id))
