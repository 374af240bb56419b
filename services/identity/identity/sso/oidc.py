"""The OpenID Connect relying party, on authlib (and joserfc, which authlib verifies JWTs with): the provider's
discovery document and JWKS, the authorization URL (code + PKCE S256, state, nonce), the code exchange, and the ID
token's verification (signature by `kid` from the JWKS, `alg` from our allow-list, iss, aud, exp, nonce)."""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

# Asymmetric algorithms only: never `none`, never HS* (a client secret must not sign what proves a user).
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DISCOVERY_MAX_AGE_S = 300.0
_cache: dict[str, tuple[float, dict]] = {}
_lock = threading.Lock()


class ProviderError(Exception):
    """The provider could not be reached or answered something unusable (reason for people; no secrets)."""


class IdTokenRefused(Exception):
    """The ID token failed verification; `reason` names which check."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_issuer_url(issuer: str) -> str | None:
    """What is wrong with a URL identity is to fetch from a tenant's provider, or None: https on public addresses
    only (every address the host resolves to), unless the host is in SSO_PRIVATE_ISSUER_HOSTS (local mode: the
    loopback names). Identity fetches these URLs itself, so a tenant admin must not point it at internal services."""
    parts = urlsplit(issuer)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        return "the issuer must be an https URL"
    if parts.hostname in settings.SSO_PRIVATE_ISSUER_HOSTS:
        return None
    if parts.scheme != "https":
        return "the issuer must be an https URL"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443,
                                                                proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        return "the issuer's host name does not resolve"
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        return "the issuer must be on a public address"
    return None


def _get_json(url: str) -> dict:
    problem = check_issuer_url(url)
    if problem:
        raise ProviderError(f"{url}: {problem}")
    try:
        response = httpx.get(url, timeout=settings.SSO_HTTP_TIMEOUT_S, follow_redirects=False)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderError(f"{url}: {type(exc).__name__}") from exc
    if not isinstance(body, dict):
        raise ProviderError(f"{url}: not a JSON object")
    return body


def _cached(url: str, *, force: bool = False) -> dict:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(url)
    if hit and not force and now - hit[0] < DISCOVERY_MAX_AGE_S:
        return hit[1]
    body = _get_json(url)
    with _lock:
        _cache[url] = (now, body)
    return body


def discovery(issuer: str, *, force: bool = False) -> dict:
    """The provider's discovery document; its `issuer` must be exactly the configured one (OpenID Discovery 4.3)."""
    document = _cached(issuer.rstrip("/") + "/.well-known/openid-configuration", force=force)
    if document.get("issuer") != issuer:
        raise ProviderError("the discovery document names another issuer")
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(field), str):
            raise ProviderError(f"the discovery document has no {field}")
    return document


def client(provider, client_secret: str) -> OAuth2Client:
    return OAuth2Client(client_id=provider.client_id, client_secret=client_secret, scope=provider.scopes,
                        redirect_uri=settings.SSO_REDIRECT_URL, code_challenge_method="S256",
                        timeout=settings.SSO_HTTP_TIMEOUT_S)


def authorization_url(provider, client_secret: str, *, state: str, nonce: str, code_verifier: str,
                      login_hint: str | None = None) -> str:
    document = discovery(provider.issuer)
    extra = {"login_hint": login_hint} if login_hint else {}
    with client(provider, client_secret) as oauth:
        url, _ = oauth.create_authorization_url(document["authorization_endpoint"], state=state, nonce=nonce,
                                                code_verifier=code_verifier, **extra)
    return url


def exchange_code(provider, client_secret: str, *, code: str, code_verifier: str) -> dict:
    document = discovery(provider.issuer)
    problem = check_issuer_url(document["token_endpoint"])
    if problem:
        raise ProviderError(f"token endpoint: {problem}")
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
    try:
        with client(provider, client_secret) as oauth:
            oauth.token_endpoint_auth_method = method
            token = oauth.fetch_token(document["token_endpoint"], grant_type="authorization_code", code=code,
                                      code_verifier=code_verifier)
    except Exception as exc:  # authlib raises its OAuthError, httpx its HTTPError: both mean "no token"
        raise ProviderError(f"the code exchange failed: {type(exc).__name__}: {str(exc)[:200]}") from exc
    if not isinstance(token, dict) or not token.get("id_token"):
        raise ProviderError("the token answer holds no id_token")
    return dict(token)


def _keys(document: dict, *, force: bool = False) -> KeySet:
    try:
        return KeySet.import_key_set(_cached(document["jwks_uri"], force=force))
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise ProviderError("the provider's JWKS is unusable") from exc


def verify_id_token(provider, id_token: str, *, nonce: str, access_token: str | None = None) -> dict:
    """The ID token's claims after every check (OpenID Connect Core 3.1.3.7); IdTokenRefused names the failed one.
    An unknown `kid` refetches the JWKS once (the provider may have rotated) before it is refused."""
    document = discovery(provider.issuer)
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in offered if alg in ALLOWED_ALGORITHMS]
    registry = JWSRegistry(algorithms=algorithms or ["RS256"], strict_check_header=False)
    try:
        try:
            token = jwt.decode(id_token, _keys(document), registry=registry)
        except InvalidKeyIdError:
            token = jwt.decode(id_token, _keys(document, force=True), registry=registry)
    except InvalidKeyIdError as exc:
        raise IdTokenRefused("signed with a key (kid) the provider does not publish") from exc
    except JoseError as exc:
        raise IdTokenRefused(f"signature or algorithm refused ({exc.error})") from exc
    except ValueError as exc:
        raise IdTokenRefused("not a well-formed JWT") from exc
    params = {"nonce": nonce, "client_id": provider.client_id}
    if access_token:
        params["access_token"] = access_token
    options = {"iss": {"essential": True, "value": provider.issuer},
               "aud": {"essential": True, "value": provider.client_id},
               "exp": {"essential": True}, "iat": {"essential": True}, "sub": {"essential": True},
               "nonce": {"essential": True}}
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(leeway=settings.SSO_LEEWAY_S)
    except JoseError as exc:
        raise IdTokenRefused(f"claim check failed: {exc.error} {getattr(exc, 'claim', '') or exc.description or ''}"
                             .strip()) from exc
    return dict(claims)
