"""Reads of the directory (the current tenant's)."""
from __future__ import annotations

from servicekit.principal import MANAGER_ROLES

from .models import LabTest, Member


def member(user_id) -> Member | None:
    return Member.objects.filter(user_id=user_id).first() if user_id else None


def managers() -> list[Member]:
    return [m for m in Member.objects.all() if set(m.roles or []) & MANAGER_ROLES]


def lab_test(test_id) -> LabTest | None:
    return LabTest.objects.filter(test_id=test_id).first() if test_id else None
