"""Every bad token is answered 401 problem+json, at the gateway and at a service called directly."""
import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest

from .conftest import OWNER_EMAIL, OWNER_PASSWORD, Api, join_by_invitation


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def unb64(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture(scope="module")
def good_token(system):
    api = Api(system.url("gateway"))
    return api.login(OWNER_EMAIL, OWNER_PASSWORD)["access"]


@pytest.fixture(scope="module")
def jwks(system):
    return httpx.get(system.url("gateway") + "/.well-known/jwks.json").json()


def forge(good_token: str, jwks: dict, case: str) -> str | None:
    head, payload, signature = good_token.split(".")
    header, claims = unb64(head), unb64(payload)
    now = int(time.time())
    resign = lambda h, c: f"{b64(h)}.{b64(c)}.{signature}"  # noqa: E731 (keeps the old signature: must fail)
    if case == "no token":
        return None
    if case == "garbage":
        return "garbage"
    if case == "expired":
        return resign(header, {**claims, "exp": now - 3600, "iat": now - 7200})
    if case == "not yet valid":
        return resign(header, {**claims, "nbf": now + 3600})
    if case == "wrong aud":
        return resign(header, {**claims, "aud": "another-api"})
    if case == "wrong iss":
        return resign(header, {**claims, "iss": "https://evil.example"})
    if case == "alg none":
        return f"{b64({**header, 'alg': 'none'})}.{payload}."
    if case == "HS256 signed with the public key":
        from cryptography.hazmat.primitives import serialization
        from jwt.algorithms import RSAAlgorithm

        key = RSAAlgorithm.from_jwk(json.dumps(next(k for k in jwks["keys"] if k["kid"] == header["kid"])))
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        h = b64({**header, "alg": "HS256"})
        sig = base64.urlsafe_b64encode(hmac.new(pem, f"{h}.{payload}".encode(), hashlib.sha256).digest())
        return f"{h}.{payload}.{sig.rstrip(b'=').decode()}"
    if case == "unknown kid":
        return f"{b64({**header, 'kid': 'kid-' + uuid.uuid4().hex})}.{payload}.{signature}"
    if case == "tampered payload":
        return resign(header, {**claims, "roles": ["operator"], "tid": str(uuid.uuid4())})
    raise AssertionError(case)


CASES = ["no token", "garbage", "expired", "not yet valid", "wrong aud", "wrong iss", "alg none",
         "HS256 signed with the public key", "unknown kid", "tampered payload"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("where", ["gateway", "measurements"])
def test_bad_token_is_401_problem(system, good_token, jwks, case, where):
    token = forge(good_token, jwks, case)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(system.url(where) + "/api/v1/athletes/", headers=headers)
    assert response.status_code == 401, (where, case, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_the_good_token_passes_both(system, good_token):
    for where in ("gateway", "measurements"):
        response = httpx.get(system.url(where) + "/api/v1/athletes/", headers={"Authorization": f"Bearer {good_token}"})
        assert response.status_code == 200, (where, response.text)


def test_token_of_a_deactivated_user_fails_after_refresh(system, owner, mailbox):
    email, password = f"leaver-{uuid.uuid4().hex[:6]}@first.lab", "leaver-password-1"
    _, member_id = join_by_invitation(owner, mailbox, email, "physiologist", password)
    leaver = Api(system.url("gateway"))
    tokens = leaver.login(email, password)
    assert owner.delete(f"/api/v1/tenants/current/members/{member_id}/").status_code in (200, 204)
    refreshed = leaver.http.post("/api/v1/auth/refresh", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401 and refreshed.headers["content-type"] == "application/problem+json"
    assert leaver.get("/api/v1/auth/me").status_code == 401
