"""Reads of SSO configuration: the caller's tenant's provider, and the platform-wide e-mail-domain routing."""
from __future__ import annotations

from .models import SSODomain, SSOProvider


def provider_of(tenant_id) -> SSOProvider | None:
    return SSOProvider.objects.filter(tenant_id=tenant_id).prefetch_related("domains").first() if tenant_id else None


def email_domain(email: str) -> str:
    return (email or "").rpartition("@")[2].strip().lower()


def routed_domain(domain: str) -> SSODomain | None:
    return SSODomain.objects.select_related("provider").filter(domain=domain.lower()).first() if domain else None
