"""Reads of reports as the caller may see them."""
from __future__ import annotations

from servicekit.principal import ATHLETE, STAFF_ROLES, VIEWER, Principal

from .models import Report


def athlete_only(principal: Principal) -> bool:
    return ATHLETE in principal.roles and not principal.has_any(STAFF_ROLES | {VIEWER}) and not principal.is_service


def visible_reports(principal: Principal, own_athletes: list | None = None):
    """The tenant's reports; a user whose only role is `athlete` sees the reports of their own athlete record:
    `own_athletes`, the records measurements links to the user now (so reports made before the link count, and
    once unlinked the user sees none). None (measurements could not say): the reports the renderer recorded for
    the user."""
    reports = Report.objects.all()
    if athlete_only(principal):
        if not _is_uuid(principal.user_id):
            return reports.none()
        if own_athletes is None:
            return reports.filter(athlete_user_id=principal.user_id)
        reports = reports.filter(athlete_id__in=[a for a in own_athletes if _is_uuid(a)])
    return reports


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False
