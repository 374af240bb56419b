"""Password checks that take the same time whether or not the account exists or has a usable password."""
from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.hashers import check_password, get_hasher, is_password_usable, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    algorithm = get_hasher().algorithm
    if algorithm not in _dummy_hashes:
        _dummy_hashes[algorithm] = make_password(secrets.token_urlsafe(24))
    return _dummy_hashes[algorithm]


def verify(raw: str, encoded: str | None, setter=None) -> bool:
    """Runs the hasher exactly once: against `encoded`, or against a dummy hash when there is no usable one
    (unknown e-mail, SSO-only account), so the answer's timing does not tell the cases apart."""
    if not encoded or not is_password_usable(encoded):
        check_password(raw, _dummy_hash())
        return False
    return check_password(raw, encoded, setter)


def hash_password(raw: str) -> str:
    return make_password(raw)


def problems_with(raw: str, user=None) -> list[str]:
    """What is wrong with a new password (AUTH_PASSWORD_VALIDATORS: length, the common-password list, all digits,
    too like the user's e-mail or name); empty when it is acceptable."""
    try:
        validate_password(raw, user)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def generate() -> str:
    return secrets.token_urlsafe(15)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
