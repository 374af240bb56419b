"""Reads of athletes as the caller may see them."""
from __future__ import annotations

from servicekit.principal import ATHLETE, STAFF_ROLES, VIEWER, Principal

from .models import Athlete


def visible_athletes(principal: Principal):
    """The tenant's athletes; a user whose only role is `athlete` sees just their own record."""
    athletes = Athlete.objects.all()
    if ATHLETE in principal.roles and not principal.has_any(STAFF_ROLES | {VIEWER}):
        athletes = athletes.filter(user_id=principal.user_id)
    return athletes
