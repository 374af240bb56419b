"""Writes of the directory: remembered from events (the newest event's values win)."""
from __future__ import annotations

from servicekit.events import Event

from . import queries
from .models import LabTest, Member

LANGUAGES = ("en", "ru")


def remember_member(event: Event, *, roles: list[str] | None = None) -> Member:
    d = event.data
    defaults = {"email": d["email"], "name": (d.get("name") or d.get("user_name") or "")[:300]}
    if d.get("language") in LANGUAGES:
        defaults["language"] = d["language"]
    if roles is not None or d.get("roles") is not None:
        defaults["roles"] = list(roles if roles is not None else d["roles"])
    member, _ = Member.objects.update_or_create(tenant_id=event.tenant_id, user_id=d["user_id"], defaults=defaults)
    queries.remembered(member)
    return member


def remember_test(event: Event) -> LabTest:
    d = event.data
    defaults = {"athlete_id": d["athlete_id"]}
    if d.get("athlete_name"):
        defaults["athlete_name"] = d["athlete_name"][:300]
    if d.get("date"):
        defaults["date"] = str(d["date"])[:10]
    if d.get("imported_by"):
        defaults["imported_by"] = d["imported_by"]
    test, _ = LabTest.objects.update_or_create(tenant_id=event.tenant_id, test_id=d["test_id"], defaults=defaults)
    queries.remembered(test)
    return test
