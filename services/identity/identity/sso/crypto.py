"""The provider's client secret at rest: Fernet with a key derived (HKDF-SHA256) from SIGNING_KEY_SECRET, as the
signing keys' private halves are (tokens.crypto), under its own HKDF `info` so the two keys differ."""
from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@functools.lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"vo2max-identity",
               info=b"sso-client-secret-encryption").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(raw: str) -> str:
    return _fernet(settings.SIGNING_KEY_SECRET).encrypt(raw.encode()).decode("ascii")


def decrypt(encrypted: str) -> str:
    return _fernet(settings.SIGNING_KEY_SECRET).decrypt(encrypted.encode("ascii")).decode()
