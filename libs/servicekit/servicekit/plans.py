"""The tenant's plan as an access token carries it (identity's `plan` claim): a read-only tenant (trial over,
paid_until past) refuses writes with 402 plan-expired; a quota reached is 403 plan-limit naming it. Mechanism only:
which quota a service counts, and how, is the service's."""
from __future__ import annotations

import time

from .problems import ProblemError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Security of one's own account (login, MFA, password, logout) is no tenant write: it stays open when read-only.
ALWAYS_WRITABLE_PREFIXES = ("/api/v1/auth/",)


class PlanExpired(ProblemError):
    def __init__(self):
        super().__init__(402, "plan-expired", "This organisation's plan has ended: its data can be read, not changed, "
                         "until the plan is renewed. Nothing is deleted.")


class PlanLimit(ProblemError):
    def __init__(self, quota: str, limit: int):
        super().__init__(403, "plan-limit", f"The plan's {quota} quota ({limit}) is reached.", quota=quota,
                         limit=limit)


def plan_of(claims: dict | None) -> dict:
    plan = (claims or {}).get("plan")
    return plan if isinstance(plan, dict) else {}


def is_read_only(claims: dict | None, now: float | None = None) -> bool:
    since = plan_of(claims).get("read_only_from")
    return isinstance(since, (int, float)) and (now if now is not None else time.time()) >= since


def refuse_writes_when_read_only(method: str, path: str, claims: dict | None) -> None:
    """Called for every verified request of every Django service (servicekit.django.drf.TokenAuthentication)."""
    if method.upper() in SAFE_METHODS or path.startswith(ALWAYS_WRITABLE_PREFIXES):
        return
    if is_read_only(claims):
        raise PlanExpired()


def quota(claims: dict | None, name: str) -> int | None:
    """The token's quota `name` (None: unlimited or not known)."""
    value = (plan_of(claims).get("quotas") or {}).get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def require_room(claims: dict | None, name: str, used: int) -> None:
    limit = quota(claims, name)
    if limit is not None and used >= limit:
        raise PlanLimit(name, limit)
