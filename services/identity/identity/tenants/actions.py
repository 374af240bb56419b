"""Writes to tenants. Views (and the tenant-with-owner flow in accounts.actions) call these; nothing else writes
a tenant."""
from __future__ import annotations

from django.db import IntegrityError, transaction

from servicekit.principal import Principal
from servicekit.problems import ProblemError

from ..audit import actions as audit
from .models import DEFAULT_SETTINGS, Tenant

EDITABLE_BY_TENANT = ("name", "settings")
SET_BY_OPERATOR = ("plan", "on_trial", "paid_until", "trial_ends", "quotas")


def new_tenant(*, name: str, slug: str, settings: dict | None = None, **fields) -> Tenant:
    """The tenant row (409 when the slug is taken). A tenant comes with its first owner: accounts.actions.create_tenant
    is the flow that calls this."""
    try:
        with transaction.atomic():
            return Tenant.objects.create(
                name=name, slug=slug.lower(), settings={**DEFAULT_SETTINGS, **(settings or {})},
                **{k: v for k, v in fields.items() if k in SET_BY_OPERATOR})
    except IntegrityError as exc:  # the serializer checked; this is the race between two creations
        raise ProblemError(409, "conflict", "A tenant with this slug exists already.") from exc


def update_tenant(tenant: Tenant, *, by: Principal | None, **changes) -> Tenant:
    """Owners and admins rename their tenant and change its settings (merged key by key)."""
    changed = []
    for name, value in changes.items():
        if name == "settings":
            tenant.settings = {**(tenant.settings or {}), **value}
        elif name in EDITABLE_BY_TENANT:
            setattr(tenant, name, value)
        else:
            continue
        changed.append(name)
    if changed:
        tenant.save()
        audit.record(audit.Kind.TENANT_CHANGED, tenant_id=tenant.id, by=by, fields=changed)
    return tenant


def change_plan(tenant: Tenant, *, by: Principal | None, **changes) -> Tenant:
    """The platform operator changes a tenant's plan, trial, paid-until day or quota overrides. Takes effect in
    identity at once and in the other services with the next access token (the `plan` claim, at most
    ACCESS_TOKEN_MINUTES later). Nothing is ever deleted for a plan."""
    before, after = {}, {}
    for name, value in changes.items():
        if name not in SET_BY_OPERATOR or getattr(tenant, name) == value:
            continue
        before[name], after[name] = getattr(tenant, name), value
        setattr(tenant, name, value)
    if after:
        tenant.save()
        audit.record(audit.Kind.PLAN_CHANGED, tenant_id=tenant.id, by=by,
                     before={k: str(v) if v is not None and not isinstance(v, (dict, bool)) else v
                             for k, v in before.items()},
                     after={k: str(v) if v is not None and not isinstance(v, (dict, bool)) else v
                            for k, v in after.items()})
    return tenant
