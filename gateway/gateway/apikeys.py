"""API keys (`Authorization: Bearer vo2_…`): exchanged through identity for a short-lived access token, which then
goes through the usual token check and travels upstream in place of the key, so services only ever see access
tokens. The gateway authenticates to identity's exchange with its client credentials (SERVICE_CLIENT_ID/SECRET).

The exchanged token is cached per key for at most API_KEY_CACHE_S (≤ 60 s, and never past the token's expiry
minus the leeway): a revoked key stops working here within that time. Refusals are remembered a few seconds so a
flood of bad keys cannot hammer identity."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict

import httpx
from servicekit.jwt import AuthUnavailable, InvalidToken

from .settings import Settings

log = logging.getLogger("gateway.apikeys")
PREFIX = "vo2_"
MAX_CACHE_S = 60.0
REFUSAL_CACHE_S = 5.0
EXCHANGE_PATH = "/api/v1/auth/api-keys/exchange"


def is_api_key(authorization: bytes | None) -> bool:
    if not authorization:
        return False
    scheme, _, token = authorization.partition(b" ")
    return scheme.lower() == b"bearer" and token.strip().startswith(PREFIX.encode())


class ApiKeys:
    def __init__(self, settings: Settings, size: int = 10_000):
        self.url = settings.service_urls["identity"] + EXCHANGE_PATH
        self.client_id, self.client_secret = settings.service_client_id, settings.service_client_secret
        self.cache_s = max(0.0, min(settings.api_key_cache_s, MAX_CACHE_S))
        self.leeway = settings.jwt_leeway
        self.timeout = settings.upstream_connect_timeout_s
        self.size = size
        self._tokens: OrderedDict[str, tuple[str | None, float]] = OrderedDict()  # key digest → (access, until)
        self._pending: dict[str, asyncio.Future] = {}
        self._client: httpx.AsyncClient | None = None

    def _cached(self, digest: str):
        item = self._tokens.get(digest)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            self._tokens.pop(digest, None)
            return None
        return item

    def _remember(self, digest: str, access: str | None, seconds: float) -> None:
        if seconds <= 0:
            return
        self._tokens[digest] = (access, time.monotonic() + seconds)
        self._tokens.move_to_end(digest)
        while len(self._tokens) > self.size:
            self._tokens.popitem(last=False)

    async def access_token(self, key: str) -> str:
        """The access token standing for `key` now, or InvalidToken."""
        if not self.client_id or not self.client_secret:
            raise InvalidToken("API keys are not enabled on this gateway.")
        digest = hashlib.sha256(key.encode()).hexdigest()
        item = self._cached(digest)
        if item is None:
            pending = self._pending.get(digest)
            if pending is None:  # single flight: concurrent first calls of one key share one exchange
                pending = self._pending[digest] = asyncio.ensure_future(self._exchange(digest, key))
                pending.add_done_callback(lambda _: self._pending.pop(digest, None))
            item = await asyncio.shield(pending)
        if item[0] is None:
            raise InvalidToken("The API key is unknown, revoked or expired.")
        return item[0]

    async def _exchange(self, digest: str, key: str):
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self._client.post(self.url, json={
                "client_id": self.client_id, "client_secret": self.client_secret, "api_key": key})
        except httpx.HTTPError as exc:
            log.warning("API key exchange at %s failed: %s: %s", self.url, type(exc).__name__, exc)
            raise AuthUnavailable("API keys cannot be checked right now; retry shortly.") from exc
        if response.status_code == 200:
            body = response.json()
            lifetime = float(body.get("expires_in") or 0) - self.leeway
            self._remember(digest, body["access"], min(self.cache_s, lifetime))
            return self._tokens.get(digest) or (body["access"], 0.0)
        if response.status_code == 401 and "invalid-api-key" in response.text:
            self._remember(digest, None, min(REFUSAL_CACHE_S, self.cache_s))
            return None, 0.0
        log.warning("API key exchange answered %s: %s", response.status_code, response.text[:300])
        raise AuthUnavailable("API keys cannot be checked right now; retry shortly.")

    async def swap(self, head, authorization: bytes) -> bytes:
        """Replace the key in the forwarded headers by its access token; returns the new header value."""
        key = authorization.partition(b" ")[2].strip().decode("latin-1")
        value = b"Bearer " + (await self.access_token(key)).encode()
        head.forward = [(name, value) if name == b"authorization" else (name, v) for name, v in head.forward]
        head.authorization = value
        return value

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
