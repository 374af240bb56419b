"""Reads of API keys."""
from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from servicekit.principal import Principal

from .models import ApiKey


def tenant_keys(principal: Principal):
    """The keys of the caller's tenant (revoked ones too: history), newest first."""
    if not principal.tenant_id:
        return ApiKey.objects.none()
    return ApiKey.objects.filter(tenant_id=principal.tenant_id).order_by("-created_at")


def live_keys(tenant_id, now=None):
    now = now or timezone.now()
    return ApiKey.objects.filter(tenant_id=tenant_id, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def key_by_hash(digest: str) -> ApiKey | None:
    return ApiKey.objects.filter(secret_hash=digest).first()


def key_by_id(key_id) -> ApiKey | None:
    try:
        return ApiKey.objects.filter(id=key_id).first()
    except (ValueError, TypeError):
        return None


def is_live(key: ApiKey | None, now=None) -> bool:
    now = now or timezone.now()
    return key is not None and key.revoked_at is None and (key.expires_at is None or key.expires_at > now)
