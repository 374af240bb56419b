"""Reads of the directory (the current tenant's). Inside a consumer's batch (servicekit.events.batch) each member
and test is read once, or for the whole batch at once by `preload`; the directory's writes keep that cache true."""
from __future__ import annotations

from servicekit.events import batch
from servicekit.principal import MANAGER_ROLES

from .models import LabTest, Member


def member(user_id) -> Member | None:
    if not user_id:
        return None
    known = batch.cache("directory.members")
    if str(user_id) not in known:
        known[str(user_id)] = Member.objects.filter(user_id=user_id).first()
    return known[str(user_id)]


def managers() -> list[Member]:
    known = batch.cache("directory.managers")
    if "all" not in known:
        known["all"] = [m for m in Member.objects.all() if set(m.roles or []) & MANAGER_ROLES]
    return known["all"]


def lab_test(test_id) -> LabTest | None:
    if not test_id:
        return None
    known = batch.cache("directory.tests")
    if str(test_id) not in known:
        known[str(test_id)] = LabTest.objects.filter(test_id=test_id).first()
    return known[str(test_id)]


def preload(user_ids=(), test_ids=()) -> None:
    """These members and tests into the batch's cache (None where unknown): two queries for a whole batch."""
    if batch.current() is None:
        return
    users = sorted({str(u) for u in user_ids if u})
    if users:
        found = {str(m.user_id): m for m in Member.objects.filter(user_id__in=users)}
        batch.cache("directory.members").update({u: found.get(u) for u in users})
    tests = sorted({str(t) for t in test_ids if t})
    if tests:
        found = {str(t.test_id): t for t in LabTest.objects.filter(test_id__in=tests)}
        batch.cache("directory.tests").update({t: found.get(t) for t in tests})


def remembered(row) -> None:
    """A member or test just written: the batch's cache shows it (and the managers are read again)."""
    if isinstance(row, Member):
        batch.cache("directory.members")[str(row.user_id)] = row
        batch.cache("directory.managers").clear()
    else:
        batch.cache("directory.tests")[str(row.test_id)] = row
