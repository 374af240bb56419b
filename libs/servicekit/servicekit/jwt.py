"""Access-token verification against identity's JWKS.

One algorithm family only (RS256): `none`, HS* and everything else are refused before any key is looked at, so a
token "signed" with the public key as an HMAC secret can never pass. Keys are found by `kid` in a cached JWKS; an
unknown `kid` triggers at most one refetch per `refetch_interval` seconds, so garbage tokens cannot hammer identity.
Verified tokens are remembered (token → principal) until min(exp, now + max_age): checking a signature and PyJWT's
strict base64 checks cost ~0.3 ms per request, a dictionary lookup does not.
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import httpx
import jwt as pyjwt
from jwt.algorithms import RSAAlgorithm

from .principal import Principal

ALGORITHMS = ["RS256"]
TOKEN_TYPE = "at+jwt"  # RFC 9068 access-token type header
MAX_LEEWAY_S = 60


class InvalidToken(Exception):
    """The token is not acceptable; `reason` is safe to show to the caller."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AuthUnavailable(InvalidToken):
    """The credential could not be checked now (identity unreachable): it may be fine. Answered 503
    `auth-unavailable` with Retry-After, not 401, so that a client retries instead of logging its user out.
    `detail` is the answer's text."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(reason)
        self.detail = detail or reason


class KeysUnavailable(AuthUnavailable):
    """No signing key is held and identity cannot be asked now."""

    def __init__(self):
        super().__init__("signing keys are unavailable", "Access tokens cannot be checked right now (identity's "
                                                         "signing keys are unavailable); try again shortly.")


AUTH_UNAVAILABLE_RETRY_S = 1


def load_jwks_document(source: str, timeout: float = 5.0) -> dict:
    """A JWKS from an http(s) URL or a `file://` path (tests and single-host installs)."""
    if source.startswith("file://"):
        return json.loads(Path(source[len("file://"):]).read_text())
    response = httpx.get(source, timeout=timeout)
    response.raise_for_status()
    return response.json()


class JWKSCache:
    """Public keys by `kid`, refreshed on an unknown `kid` at most once per `refetch_interval`.

    While it holds no key at all (its first fetch failed: identity timed out under a burst of logins, or was not up
    yet), it tries again after `keyless_interval` (0.25 s), not after the whole `refetch_interval`: one failed first
    fetch used to refuse every token for the next 10 s as "unknown signing key" (bench/load.py on a fresh SaaS system,
    ~20 refusals at the start). A refusal while no key is held and identity did not answer is KeysUnavailable (503, the token may be
    fine); one after identity answered with no key is "unknown signing key" (401). The fetches
    stay one at a time (the lock), so an unreachable identity is asked at most four times a second."""

    KEYLESS_INTERVAL_S = 0.25

    def __init__(self, source: str | Callable[[], dict], refetch_interval: float = 30.0, max_age: float = 3600.0,
                 keyless_interval: float | None = None):
        self._fetch = source if callable(source) else (lambda: load_jwks_document(source))
        self._keys: dict[str, object] = {}
        self._fetched_at = 0.0
        self._refetch_interval = refetch_interval
        self._keyless_interval = min(refetch_interval, self.KEYLESS_INTERVAL_S if keyless_interval is None
                                     else keyless_interval)
        self._max_age = max_age
        self._unreachable = False  # the last fetch failed (not: it answered, with no key)
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        document = self._fetch()
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid") and jwk.get("use", "sig") == "sig":
                keys[jwk["kid"]] = RSAAlgorithm.from_jwk(json.dumps(jwk))
        self._keys = keys
        self._fetched_at = time.monotonic()
        self._unreachable = False

    def key(self, kid: str):
        if kid in self._keys and time.monotonic() - self._fetched_at <= self._max_age:
            return self._keys[kid]
        with self._lock:
            now = time.monotonic()
            missing = kid not in self._keys or now - self._fetched_at > self._max_age
            interval = self._refetch_interval if self._keys else self._keyless_interval
            may_refetch = not self._fetched_at or now - self._fetched_at >= interval
            if missing and may_refetch:
                try:
                    self._refresh()
                except Exception as exc:  # identity unreachable: keep the keys we have
                    self._fetched_at = now  # and do not retry on every request
                    self._unreachable = True
                    if not self._keys:
                        raise KeysUnavailable() from exc
        if not self._keys and self._unreachable:
            raise KeysUnavailable()
        if not self._keys:  # identity answered and publishes no key: nothing it signed can be valid
            raise InvalidToken("unknown signing key")
        if kid not in self._keys:
            raise InvalidToken("unknown signing key")
        return self._keys[kid]

    def prefetch(self, timeout: float = 120.0, pause: float = 0.25) -> bool:
        """Fetch the keys before any token needs them (a web process at start: servicekit.jwt.warm_up), asking again
        with growing pauses (at most 5 s) while identity does not answer, for at most `timeout` seconds. True once
        keys are held."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._keys:
                    return True
                try:
                    self._refresh()
                    if self._keys:
                        return True
                except Exception:  # identity not up yet, or busy: ask again
                    pass
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    def set_keys(self, document: dict) -> None:
        """Install keys directly (identity verifying its own tokens, tests)."""
        self._fetch = lambda: document
        self._fetched_at = 0.0
        self._refresh()


class TokenCache:
    """A bounded LRU of verified tokens, safe across threads. An entry lives until min(exp, now + max_age): access
    tokens are stateless anyway (revocation acts on refresh tokens), so remembering a verified one changes nothing
    but the cost. `size` 0 turns it off."""

    def __init__(self, size: int = 10_000, max_age: float = 60.0):
        self.size, self.max_age = size, max_age
        self._items: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        item = self._items.get(token)
        if item is None:
            return None
        if item[1] <= time.time():
            with self._lock:
                self._items.pop(token, None)
            return None
        with self._lock:
            if token in self._items:
                self._items.move_to_end(token)
        return item[0]

    def put(self, token: str, principal: Principal) -> None:
        if self.size <= 0:
            return
        expires = min(float(principal.claims.get("exp", 0)), time.time() + self.max_age)
        with self._lock:
            self._items[token] = (principal, expires)
            self._items.move_to_end(token)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class TokenVerifier:
    def __init__(self, keys: JWKSCache, issuer: str, audience: str, leeway: int = 30,
                 cache: TokenCache | None = None):
        if not 0 <= leeway <= MAX_LEEWAY_S:
            raise ValueError("leeway must be between 0 and 60 seconds")
        self.keys, self.issuer, self.audience, self.leeway = keys, issuer, audience, leeway
        self.cache = cache

    def verify(self, token: str) -> Principal:
        if self.cache is not None:
            principal = self.cache.get(token)
            if principal is not None:
                return principal
        claims = self.verify_claims(token)
        roles = claims.get("roles") or []
        if not isinstance(roles, list):
            raise InvalidToken("roles claim is malformed")
        principal = Principal(
            user_id=str(claims["sub"]),
            tenant_id=str(claims["tid"]) if claims.get("tid") else None,
            roles=frozenset(str(r) for r in roles),
            token_id=claims.get("jti"),
            claims=claims,
        )
        if self.cache is not None:
            self.cache.put(token, principal)
        return principal

    def verify_claims(self, token: str) -> dict:
        if not token or len(token) > 8192:
            raise InvalidToken("token is missing or too long")
        try:
            header = pyjwt.get_unverified_header(token)
        except pyjwt.PyJWTError as exc:
            raise InvalidToken("token is not a well-formed JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken("token algorithm is not allowed")
        if header.get("typ", "").lower() != TOKEN_TYPE:
            raise InvalidToken("token is not an access token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id")
        key = self.keys.key(kid)
        try:
            return pyjwt.decode(
                token, key=key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except pyjwt.ExpiredSignatureError as exc:
            raise InvalidToken("token has expired") from exc
        except pyjwt.ImmatureSignatureError as exc:
            raise InvalidToken("token is not yet valid") from exc
        except pyjwt.InvalidAudienceError as exc:
            raise InvalidToken("token audience is wrong") from exc
        except pyjwt.InvalidIssuerError as exc:
            raise InvalidToken("token issuer is wrong") from exc
        except pyjwt.InvalidSignatureError as exc:
            raise InvalidToken("token signature is invalid") from exc
        except pyjwt.PyJWTError as exc:
            raise InvalidToken("token is invalid") from exc


_verifier: TokenVerifier | None = None
_verifier_lock = threading.Lock()


def verifier_from_env() -> TokenVerifier:
    """The process-wide verifier, configured by JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE."""
    global _verifier
    if _verifier is None:
        from .config import env, env_int
        with _verifier_lock:
            if _verifier is None:
                _verifier = TokenVerifier(
                    JWKSCache(env("JWT_JWKS_URL", "http://127.0.0.1:8001/.well-known/jwks.json"),
                              refetch_interval=float(env("JWT_JWKS_REFETCH_S", "10"))),
                    issuer=env("JWT_ISSUER", "vo2max-identity"),
                    audience=env("JWT_AUDIENCE", "vo2max-api"),
                    leeway=env_int("JWT_LEEWAY_S", 30),
                    cache=TokenCache(env_int("TOKEN_CACHE_SIZE", 10_000), float(env("TOKEN_CACHE_S", "60"))),
                )
    return _verifier


_warmed = False


def warm_up(timeout: float = 120.0) -> threading.Thread | None:
    """The process verifier's keys fetched in a background thread when a web process starts (the kit's request
    middleware calls it once per process): on a fresh system the services' first requests come with the first
    logins, when identity is busiest (bench/load.py: identity answered in ~11 s on average during the labs' logins,
    and a first JWKS fetch then timed out, refusing the first requests). Fetched at start, while identity is idle,
    the keys are there before the first token; a rotation's new kid is still found by the bounded refetch."""
    global _warmed
    with _verifier_lock:
        if _warmed:
            return None
        _warmed = True
    keys = verifier_from_env().keys
    thread = threading.Thread(target=keys.prefetch, kwargs={"timeout": timeout}, name="jwks-warm-up", daemon=True)
    thread.start()
    return thread


def set_verifier(verifier: TokenVerifier | None) -> None:
    global _verifier
    _verifier = verifier
