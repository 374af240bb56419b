"""Writes to tenants. Views validate and call these; nothing else writes a tenant."""
from __future__ import annotations

from django.db import IntegrityError, transaction

from servicekit.principal import OWNER, Principal
from servicekit.problems import ProblemError

from ..audit import actions as audit
from .models import DEFAULT_SETTINGS, Tenant

EDITABLE_BY_TENANT = ("name", "settings")
SET_BY_OPERATOR = ("plan", "on_trial", "paid_until")


def create_tenant(*, by: Principal | None, name: str, slug: str, owner_email: str, owner_password: str | None = None,
                  owner_full_name: str = "", settings: dict | None = None, **fields) -> Tenant:
    """A tenant and its first owner (an existing user keeps their password; a new one needs an initial one)."""
    from ..accounts.actions import add_member

    with transaction.atomic():
        try:
            with transaction.atomic():
                tenant = Tenant.objects.create(
                    name=name, slug=slug.lower(), settings={**DEFAULT_SETTINGS, **(settings or {})},
                    **{k: v for k, v in fields.items() if k in SET_BY_OPERATOR})
        except IntegrityError as exc:  # the serializer checked; this is the race between two creations
            raise ProblemError(409, "conflict", "A tenant with this slug exists already.") from exc
        add_member(tenant.id, by=None, email=owner_email, role=OWNER, full_name=owner_full_name,
                   password=owner_password, provisioned_by="operator", actor=audit.actor_of(by))
        audit.record(audit.Kind.TENANT_CREATED, tenant_id=tenant.id, by=by, slug=tenant.slug)
    return tenant


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


def bootstrap(*, name: str, slug: str, email: str, password: str | None, full_name: str = "",
              operator: bool = False, plan: str | None = None) -> tuple[Tenant | None, str | None]:
    """The first tenant and its owner, when there is no tenant yet (idempotent). Returns (tenant, generated password):
    (None, None) when identity was set up already; the password is None unless one was generated here."""
    from ..accounts import passwords
    from ..accounts.actions import make_operator
    from ..accounts.queries import user_by_email
    from ..tokens.actions import active_signing_key

    with transaction.atomic():
        active_signing_key()
        if Tenant.objects.exists():
            return None, None
        existing = user_by_email(email)
        generated = passwords.generate() if password is None and existing is None else None
        fields = {"plan": plan} if plan else {}
        tenant = create_tenant(by=None, name=name, slug=slug, owner_email=email, owner_full_name=full_name,
                               owner_password=password or generated, **fields)
        if operator:
            make_operator(user_by_email(email))
    return tenant, generated
