"""What a tenant's plan allows: quotas (members, API keys, tests imported per month, storage) and whether it is
read-only (a trial past its last day, or paid_until in the past). Identity enforces the quotas of what it counts
(members, API keys); the plan also travels in every access token (`plan` claim, servicekit.plans) so the service
that counts something else (measurements: imports) enforces it there."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone as dt_timezone

from django.utils import timezone

from servicekit import plans as kit_plans

from .models import Tenant

MEMBERS, API_KEYS, IMPORTS_PER_MONTH, STORAGE_MB = "members", "api_keys", "imports_per_month", "storage_mb"
QUOTA_NAMES = (MEMBERS, API_KEYS, IMPORTS_PER_MONTH, STORAGE_MB)
UNLIMITED = None
# None: unlimited. An operator overrides any of them per tenant (Tenant.quotas).
PLAN_QUOTAS: dict[str, dict[str, int | None]] = {
    "local": {MEMBERS: None, API_KEYS: None, IMPORTS_PER_MONTH: None, STORAGE_MB: None},
    "trial": {MEMBERS: 3, API_KEYS: 1, IMPORTS_PER_MONTH: 30, STORAGE_MB: 1024},
    "starter": {MEMBERS: 25, API_KEYS: 10, IMPORTS_PER_MONTH: 1000, STORAGE_MB: 10 * 1024},
    "lab": {MEMBERS: 50, API_KEYS: 25, IMPORTS_PER_MONTH: 5000, STORAGE_MB: 100 * 1024},
    "professional": {MEMBERS: 100, API_KEYS: 50, IMPORTS_PER_MONTH: 20000, STORAGE_MB: 500 * 1024},
    "enterprise": {MEMBERS: None, API_KEYS: None, IMPORTS_PER_MONTH: None, STORAGE_MB: None},
}


def quotas_of(tenant: Tenant) -> dict[str, int | None]:
    base = dict(PLAN_QUOTAS.get(tenant.plan, PLAN_QUOTAS["starter"]))
    base.update({k: v for k, v in (tenant.quotas or {}).items() if k in QUOTA_NAMES})
    return base


def _end_of(day: date) -> datetime:
    """The first instant after `day` (UTC): a plan paid until a day covers that whole day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=dt_timezone.utc)


def read_only_from(tenant: Tenant) -> datetime | None:
    """When the tenant becomes read-only (None: never, as things stand)."""
    ends = []
    if tenant.on_trial and tenant.trial_ends:
        ends.append(_end_of(tenant.trial_ends))
    if tenant.paid_until:
        ends.append(_end_of(tenant.paid_until))
    return min(ends) if ends else None


def is_read_only(tenant: Tenant, now=None) -> bool:
    since = read_only_from(tenant)
    return since is not None and (now or timezone.now()) >= since


def claim(tenant: Tenant) -> dict:
    """The `plan` claim of an access token: evaluated by whoever reads it at the time of the request."""
    since = read_only_from(tenant)
    return {"name": tenant.plan, "read_only_from": int(since.timestamp()) if since else None,
            "quotas": quotas_of(tenant)}


def require_room(tenant: Tenant | None, quota: str, used: int) -> None:
    """403 plan-limit when `used` already reaches the tenant's `quota`; 402 when the tenant is read-only."""
    if tenant is None:
        return
    if is_read_only(tenant):
        raise kit_plans.PlanExpired()
    limit = quotas_of(tenant).get(quota)
    if limit is not None and used >= limit:
        raise kit_plans.PlanLimit(quota, limit)
