"""Service tokens: how a service calls another service for a tenant when no user's token is at hand.

Background jobs never reuse a user's token (it expires while the job waits in a queue). They ask identity
`POST {IDENTITY_URL}/api/v1/auth/service-token {"client_id", "client_secret", "tenant"}` → `{"access", "expires_in"}`
(client credentials) and keep the token per tenant until shortly before it expires.
"""
from __future__ import annotations

import threading
import time

import httpx

REFRESH_MARGIN_S = 30


class ServiceTokenError(RuntimeError):
    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.detail, self.status = detail, status


class ServiceTokenUnavailable(ServiceTokenError):
    """identity unreachable, 5xx or 429: worth retrying."""


class ServiceTokenRefused(ServiceTokenError):
    """identity said no (wrong client or secret, unknown tenant): retrying will not help."""


class ServiceTokens:
    """Tokens per tenant, cached until REFRESH_MARGIN_S before they expire. Call it with a tenant id."""

    unavailable_error: type[Exception] = ServiceTokenUnavailable
    refused_error: type[Exception] = ServiceTokenRefused

    def __init__(self, identity_url: str, client_id: str, client_secret: str | None, *,
                 http: httpx.Client | None = None, timeout: float = 10.0):
        self.url = identity_url.rstrip("/") + "/api/v1/auth/service-token"
        self.client_id, self.client_secret = client_id, client_secret
        self.http = http or httpx.Client(timeout=timeout)
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, tenant_id) -> str:
        tenant_id = str(tenant_id)
        cached = self._cache.get(tenant_id)
        if cached and cached[1] - REFRESH_MARGIN_S > time.time():
            return cached[0]
        with self._lock:
            cached = self._cache.get(tenant_id)
            if cached and cached[1] - REFRESH_MARGIN_S > time.time():
                return cached[0]
            token, expires_at = self._fetch(tenant_id)
            self._cache[tenant_id] = (token, expires_at)
            return token

    token = __call__

    def invalidate(self, tenant_id) -> None:
        """Forget a tenant's token (a 401 from the callee: it expired early or the signing key rotated)."""
        self._cache.pop(str(tenant_id), None)

    def _fetch(self, tenant_id: str) -> tuple[str, float]:
        if not self.client_secret:
            raise self.refused_error(f"SERVICE_CLIENT_SECRET is not set: {self.client_id} cannot ask identity for "
                                     "a service token")
        try:
            response = self.http.post(self.url, json={"client_id": self.client_id, "client_secret": self.client_secret,
                                                      "tenant": tenant_id})
        except httpx.HTTPError as exc:
            raise self.unavailable_error(f"identity is unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise self.unavailable_error(f"identity answered {response.status_code}", response.status_code)
        if response.status_code != 200:
            raise self.refused_error(f"identity refused a service token ({response.status_code}): "
                                     f"{response.text[:200]}", response.status_code)
        body = response.json()
        token = body.get("access")
        if not token:
            raise self.refused_error("identity's answer holds no access token")
        expires_in = body.get("expires_in")
        return token, time.time() + (float(expires_in) if expires_in else 60.0)


# ---- the service's own token source (settings IDENTITY_URL, SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET) -------------

_shared: ServiceTokens | None = None
_provider = None


def set_provider(provider) -> None:
    """Tests (and one-process setups without identity) mint tokens themselves: `provider(tenant_id) -> token`;
    None restores identity's client credentials."""
    global _provider
    _provider = provider


class _ForTenant:
    """`for_tenant(tenant_id)` → a service token for that tenant; `for_tenant.invalidate(tenant_id)` after a 401."""

    def __call__(self, tenant_id) -> str:
        global _shared
        if _provider is not None:
            return _provider(str(tenant_id))
        if _shared is None:
            from django.conf import settings

            _shared = ServiceTokens(settings.IDENTITY_URL, settings.SERVICE_CLIENT_ID, settings.SERVICE_CLIENT_SECRET)
        return _shared(tenant_id)

    def invalidate(self, tenant_id) -> None:
        if _shared is not None:
            _shared.invalidate(tenant_id)


for_tenant = _ForTenant()
