"""Access-token check before routing, with the kit's TokenVerifier, never blocking the event loop.

The kit's JWKSCache fetches synchronously on an unknown `kid`. Here it is only ever fed through `set_keys()` with a
document this module fetched asynchronously, so `JWKSCache.key()` never does I/O inside the event loop. An unknown
`kid` triggers an async refetch, single-flight and at most once per `jwks_refetch_s` (garbage tokens cannot hammer
identity); a background task also refreshes the keys every `jwks_max_age_s` so rotations are picked up.

Verified tokens are cached (token → principal) in a bounded LRU until min(exp, now + token_cache_s): signature
verification costs tens of microseconds, a dict lookup does not.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import httpx
import jwt as pyjwt
from servicekit.jwt import InvalidToken, JWKSCache, KeysUnavailable, TokenCache, TokenVerifier
from servicekit.principal import Principal

from .settings import Settings

log = logging.getLogger("gateway.auth")

WWW_AUTHENTICATE = 'Bearer realm="vo2max"'


class AsyncJWKS:
    """Fetches identity's JWKS asynchronously and installs it into a kit JWKSCache."""

    def __init__(self, url: str, refetch_interval: float, max_age: float, timeout: float = 5.0):
        self.url, self.refetch_interval, self.max_age, self.timeout = url, refetch_interval, max_age, timeout
        # The kit cache: after set_keys() its own (sync) refetch re-reads the installed document, no I/O.
        self.cache = JWKSCache(lambda: {"keys": []}, refetch_interval=refetch_interval, max_age=max_age * 2 + 3600)
        self.kids: frozenset[str] = frozenset()
        self._last_attempt = 0.0
        self.unreachable = False  # the last fetch failed: a refusal then is 503, not 401 (servicekit.jwt)
        self._lock = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None

    async def _fetch_document(self) -> dict:
        if self.url.startswith("file://"):
            return json.loads(await asyncio.to_thread(Path(self.url[len("file://"):]).read_text))
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        response = await self._client.get(self.url)
        response.raise_for_status()
        return response.json()

    def _interval(self) -> float:
        # No key yet (identity was still starting when the gateway came up): try again after a second, not after
        # the full interval, or every token is refused for that long.
        return self.refetch_interval if self.kids else min(self.refetch_interval, 0.25)

    async def refresh(self, force: bool = False) -> bool:
        """Refetch the JWKS unless one was attempted within `refetch_interval`; True when keys were installed."""
        if not force and time.monotonic() - self._last_attempt < self._interval():
            return False
        async with self._lock:
            if not force and time.monotonic() - self._last_attempt < self._interval():
                return False  # another request refetched while we waited
            self._last_attempt = time.monotonic()
            try:
                document = await self._fetch_document()
                self.cache.set_keys(document)  # parses the RSA keys; the kit keeps them by kid
            except Exception as exc:  # identity unreachable: keep the keys we have
                self.unreachable = True
                log.warning("JWKS fetch from %s failed: %s: %s", self.url, type(exc).__name__, exc)
                return False
            self.kids = frozenset(jwk.get("kid") for jwk in document.get("keys", []) if jwk.get("kid"))
            self.unreachable = False
            return True

    async def run_periodic_refresh(self) -> None:
        while True:
            await asyncio.sleep(self.max_age if self.kids else 2.0)  # keyless at start: until identity answers
            await self.refresh(force=True)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class Authenticator:
    def __init__(self, settings: Settings):
        self.jwks = AsyncJWKS(settings.jwks_url, settings.jwks_refetch_s, settings.jwks_max_age_s)
        # The verifier owns the token cache (it fills it); the cache is asked first here only so that a known
        # token never reaches the kid check and its possible JWKS refetch.
        self.cache = TokenCache(settings.token_cache_size, settings.token_cache_s)
        self.verifier = TokenVerifier(self.jwks.cache, settings.jwt_issuer, settings.jwt_audience,
                                      leeway=settings.jwt_leeway, cache=self.cache)
        self.metrics = None  # the gateway's (observe.GatewayMetrics): token cache hits and misses

    async def start(self) -> None:
        await self.jwks.refresh(force=True)

    async def authenticate(self, authorization: str | None) -> Principal:
        """The verified principal for an `Authorization` header value, or InvalidToken."""
        if not authorization:
            raise InvalidToken("A bearer access token is required.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidToken("A bearer access token is required.")
        principal = self.cache.get(token)
        measured = self.metrics
        if principal is not None:
            if measured is not None:
                measured.token_hit.inc()
            return principal
        if measured is not None:
            measured.token_miss.inc()
        if len(token) > 8192:
            raise InvalidToken("token is missing or too long")
        try:
            kid = pyjwt.get_unverified_header(token).get("kid")
        except pyjwt.PyJWTError as exc:
            raise InvalidToken("token is not a well-formed JWT") from exc
        if isinstance(kid, str) and kid not in self.jwks.kids:
            keyless = not self.jwks.kids
            refreshed = await self.jwks.refresh()  # unknown kid: rate-limited async refetch (rotation), no loop I/O
            if keyless and not refreshed and not self.jwks.kids:
                # no key at all yet (identity was starting): wait out the short keyless interval once, then ask again
                await asyncio.sleep(self.jwks._interval())
                await self.jwks.refresh()
            if not self.jwks.kids and self.jwks.unreachable:
                raise KeysUnavailable()
        return self.verifier.verify(token)  # remembered by the verifier's cache
