"""Reads of tenants."""
from __future__ import annotations

from django.http import Http404

from servicekit.principal import Principal

from .models import Tenant


def current_tenant(principal: Principal) -> Tenant:
    """The caller's own tenant (404 when the token acts for none or it is gone)."""
    if not principal.tenant_id:
        raise Http404
    tenant = Tenant.objects.filter(id=principal.tenant_id).first()
    if tenant is None:
        raise Http404
    return tenant


def all_tenants():
    """Every tenant: for the platform operator only (the view checks the role)."""
    return Tenant.objects.all()


def tenant_by_slug_or_id(value: str) -> Tenant | None:
    import uuid

    try:
        return Tenant.objects.filter(id=uuid.UUID(str(value))).first()
    except ValueError:
        return Tenant.objects.filter(slug=str(value).lower()).first()


def tenants_by_id(ids) -> dict:
    return {t.id: t for t in Tenant.objects.filter(id__in=list(ids))}


def tenant_language(tenant) -> str:
    """The tenant's language for e-mails and events (settings.language; "en" unless it is a known one)."""
    from .models import LANGUAGES

    if not isinstance(tenant, Tenant):
        tenant = Tenant.objects.filter(id=tenant).first()
    language = tenant.language if tenant is not None else "en"
    return language if language in LANGUAGES else "en"


def tenant_deletion(tenant_id):
    """The operator's deletion of a tenant (a platform record: for the operator only, the view checks the role)."""
    from .models import TenantDeletion

    return TenantDeletion.objects.filter(subject_id=tenant_id).first()
