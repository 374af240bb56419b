"""Service tokens for measurements' calls to analysis on behalf of a tenant (the kit's client-credentials cache).

Tests swap the source with `set_provider` (they mint tokens with the kit's SigningKeys where identity isn't running).
"""
from __future__ import annotations

from typing import Callable

from django.conf import settings

from servicekit.service_tokens import ServiceTokenError, ServiceTokens

ServiceTokenClient = ServiceTokens  # the name the pipeline and its tests use
__all__ = ["ServiceTokenClient", "ServiceTokenError", "service_token", "invalidate", "set_provider"]

_client: ServiceTokens | None = None
_provider: Callable[[str], str] | None = None


def set_provider(provider: Callable[[str], str] | None) -> None:
    global _provider
    _provider = provider


def service_token(tenant_id: str) -> str:
    global _client
    if _provider is not None:
        return _provider(str(tenant_id))
    if _client is None:
        _client = ServiceTokens(settings.IDENTITY_URL, settings.SERVICE_CLIENT_ID, settings.SERVICE_CLIENT_SECRET)
    return _client(tenant_id)


def invalidate(tenant_id: str) -> None:
    if _client is not None:
        _client.invalidate(tenant_id)
