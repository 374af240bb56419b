"""Reads of signing keys and refresh tokens."""
from __future__ import annotations

from django.utils import timezone
from django.db.models import Q

from .models import RefreshToken, SigningKey


def published_keys(now=None):
    """Active and passive keys whose tokens may still be alive: what the JWKS publishes."""
    now = now or timezone.now()
    return (SigningKey.objects.filter(state__in=[SigningKey.State.ACTIVE, SigningKey.State.PASSIVE])
            .filter(Q(retire_after__isnull=True) | Q(retire_after__gt=now)).order_by("-created_at"))


def jwks_document() -> dict:
    return {"keys": [key.public_jwk for key in published_keys()]}


def refresh_token_by_hash(digest: str, *, for_update: bool = False) -> RefreshToken | None:
    tokens = RefreshToken.objects.select_for_update() if for_update else RefreshToken.objects
    return tokens.filter(token_hash=digest).first()
