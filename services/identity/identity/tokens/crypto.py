"""Key material: RSA key pairs, their JWKs, and the private half encrypted at rest (Fernet, key from
SIGNING_KEY_SECRET via HKDF-SHA256)."""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets

from django.conf import settings
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import RSAAlgorithm


KEY_SIZE = 2048


@functools.lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"vo2max-identity",
               info=b"signing-key-encryption").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def new_key_pair() -> tuple[str, dict, str]:
    """(kid, public JWK, encrypted private PEM) of a fresh RSA key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    kid = secrets.token_hex(8)
    jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return kid, jwk, _fernet(settings.SIGNING_KEY_SECRET).encrypt(pem).decode("ascii")


class KeyDecryptionError(RuntimeError):
    pass


@functools.lru_cache(maxsize=16)
def private_key(kid: str, encrypted: str):
    """The loaded private key (decrypted once per process and key)."""
    try:
        pem = _fernet(settings.SIGNING_KEY_SECRET).decrypt(encrypted.encode("ascii"))
    except InvalidToken as exc:
        raise KeyDecryptionError(f"signing key {kid} does not decrypt with SIGNING_KEY_SECRET") from exc
    return serialization.load_pem_private_key(pem, password=None)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)
