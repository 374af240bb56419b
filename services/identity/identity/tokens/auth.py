"""Identity verifies bearer tokens with its own keys, read from its database: no HTTP call to itself."""
from __future__ import annotations

import threading

from django.conf import settings
from rest_framework import exceptions

from servicekit import jwt as kit_jwt
from servicekit.django.drf import TokenAuthentication

from . import queries
from .actions import service_client_of

_verifier: kit_jwt.TokenVerifier | None = None
_lock = threading.Lock()

# An unknown kid re-reads the keys from the database every time (one indexed query, nothing remote); a known key is
# trusted from memory for at most a minute after it was read.
KEY_CACHE_MAX_AGE_S = 60.0

# Tokens whose subject is no user (an API key: claim `api_key`): the folder that issues them registers, by claim
# name, how to tell that such a token is still honoured (folders above tokens; tokens imports none of them).
SUBJECT_CHECKS: dict = {}


def honour_subject(claim: str):
    def register(is_current):
        SUBJECT_CHECKS[claim] = is_current
        return is_current
    return register


def own_verifier() -> kit_jwt.TokenVerifier:
    global _verifier
    if _verifier is None:
        with _lock:
            if _verifier is None:
                _verifier = kit_jwt.TokenVerifier(
                    kit_jwt.JWKSCache(queries.jwks_document, refetch_interval=0.0, max_age=KEY_CACHE_MAX_AGE_S),
                    issuer=settings.JWT_ISSUER, audience=settings.JWT_AUDIENCE, leeway=settings.JWT_LEEWAY_S)
    return _verifier


_password_change_verifier: kit_jwt.TokenVerifier | None = None


class _EitherAudience:
    """The usual audience, or the restricted one of a session that must change its password first."""

    def verify(self, token: str):
        global _password_change_verifier
        try:
            return own_verifier().verify(token)
        except kit_jwt.InvalidToken:
            if _password_change_verifier is None:
                usual = own_verifier()
                _password_change_verifier = kit_jwt.TokenVerifier(
                    usual.keys, issuer=settings.JWT_ISSUER, audience=settings.PASSWORD_CHANGE_AUDIENCE,
                    leeway=settings.JWT_LEEWAY_S)
            return _password_change_verifier.verify(token)


class IdentityTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        # Only a view that says so (POST /auth/password) honours the restricted password-change audience.
        view = (getattr(request, "parser_context", None) or {}).get("view")
        self.password_change_ok = bool(getattr(view, "accepts_password_change_token", False))
        return super().authenticate(request)

    def verifier(self):
        return _EitherAudience() if getattr(self, "password_change_ok", False) else own_verifier()

    def check_principal(self, principal) -> None:
        """Refuse a still-valid token whose user, membership or roles changed since it was issued (deactivation
        takes effect here at once; other services honour the token until it expires)."""
        from ..accounts.queries import principal_is_current

        for claim, is_current in SUBJECT_CHECKS.items():
            if claim in principal.claims:
                if not is_current(principal):
                    raise exceptions.AuthenticationFailed("this API key is revoked or expired")
                return
        client = service_client_of(principal)
        if client is not None:
            if client not in settings.SERVICE_CLIENTS:
                raise exceptions.AuthenticationFailed("this service client is no longer configured")
            return
        if not principal_is_current(principal):
            raise exceptions.AuthenticationFailed("this account, membership or role is no longer active; log in again")
