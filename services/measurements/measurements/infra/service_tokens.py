"""Service tokens for calls to other services on behalf of a tenant (client credentials at identity).

Background jobs never reuse a user's token (it expires while the job waits in the queue): they ask identity
`POST {IDENTITY_URL}/api/v1/auth/service-token {"client_id", "client_secret", "tenant"}` → `{"access", ...}` and cache
the token per tenant until shortly before it expires.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import httpx
import jwt as pyjwt
from django.conf import settings

REFRESH_MARGIN_S = 30


class ServiceTokenError(RuntimeError):
    pass


class ServiceTokenClient:
    def __init__(self, identity_url: str, client_id: str, client_secret: str | None,
                 http: httpx.Client | None = None):
        self.identity_url = identity_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.http = http or httpx.Client(timeout=10.0)
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, tenant_id: str) -> str:
        tenant_id = str(tenant_id)
        cached = self._cache.get(tenant_id)
        if cached and cached[1] - REFRESH_MARGIN_S > time.time():
            return cached[0]
        with self._lock:
            cached = self._cache.get(tenant_id)
            if cached and cached[1] - REFRESH_MARGIN_S > time.time():
                return cached[0]
            access, expires_at = self._fetch(tenant_id)
            self._cache[tenant_id] = (access, expires_at)
            return access

    def invalidate(self, tenant_id: str) -> None:
        self._cache.pop(str(tenant_id), None)

    def _fetch(self, tenant_id: str) -> tuple[str, float]:
        if not self.client_secret:
            raise ServiceTokenError("SERVICE_CLIENT_SECRET is not set: cannot ask identity for a service token")
        try:
            response = self.http.post(f"{self.identity_url}/api/v1/auth/service-token",
                                      json={"client_id": self.client_id, "client_secret": self.client_secret,
                                            "tenant": tenant_id})
        except httpx.HTTPError as exc:
            raise ServiceTokenError(f"identity is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise ServiceTokenError(f"identity refused a service token ({response.status_code}): "
                                    f"{response.text[:200]}")
        body = response.json()
        access = body["access"]
        expires_at = None
        if body.get("expires_in"):
            expires_at = time.time() + float(body["expires_in"])
        else:
            try:
                expires_at = float(pyjwt.decode(access, options={"verify_signature": False})["exp"])
            except Exception:
                expires_at = time.time() + 60
        return access, expires_at


_client: ServiceTokenClient | None = None
_provider: Callable[[str], str] | None = None


def set_provider(provider: Callable[[str], str] | None) -> None:
    """Replace where tokens come from (tests mint them with the kit's SigningKeys where identity isn't running)."""
    global _provider
    _provider = provider


def service_token(tenant_id: str) -> str:
    global _client
    if _provider is not None:
        return _provider(str(tenant_id))
    if _client is None:
        _client = ServiceTokenClient(settings.IDENTITY_URL, settings.SERVICE_CLIENT_ID, settings.SERVICE_CLIENT_SECRET)
    return _client.token(tenant_id)


def invalidate(tenant_id: str) -> None:
    if _client is not None:
        _client.invalidate(tenant_id)
