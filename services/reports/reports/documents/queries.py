"""Reads of reports as the caller may see them."""
from __future__ import annotations

from servicekit.principal import ATHLETE, STAFF_ROLES, VIEWER, Principal

from .models import Report


def visible_reports(principal: Principal):
    """The tenant's reports; a user whose only role is `athlete` sees reports of their own tests only."""
    reports = Report.objects.all()
    if ATHLETE in principal.roles and not principal.has_any(STAFF_ROLES | {VIEWER}) and not principal.is_service:
        reports = reports.filter(athlete_user_id=principal.user_id) if _is_uuid(principal.user_id) else reports.none()
    return reports


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False
