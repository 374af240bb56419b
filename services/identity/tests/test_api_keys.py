"""API keys: owners and admins create (secret once, hashed), list and revoke keys; the gateway (a service client)
exchanges a key for a short-lived access token acting as the key; never owner, never another tenant."""
import hashlib

import jwt
import pytest
from rest_framework.test import APIClient

from .conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)
KEYS = "/api/v1/tenants/current/api-keys/"
GATEWAY_SECRET = "gateway-test-secret-123"


@pytest.fixture(autouse=True)
def gateway_client(settings):
    settings.SERVICE_CLIENTS = {**settings.SERVICE_CLIENTS, "gateway": GATEWAY_SECRET}
    settings.API_KEY_CLIENTS = ["gateway"]


def exchange(secret, client_id="gateway", client_secret=GATEWAY_SECRET):
    return APIClient().post("/api/v1/auth/api-keys/exchange",
                            {"client_id": client_id, "client_secret": client_secret, "api_key": secret}, format="json")


def test_a_key_is_shown_once_stored_hashed_and_exchanged_for_a_token_acting_as_the_key(make_tenant, session):
    from identity.apikeys.models import ApiKey
    from identity.audit.models import AuditEvent

    lab = make_tenant("lab-a", "anna@lab-a.test")
    owner = session("anna@lab-a.test")
    created = owner.post(KEYS, {"name": "LIMS sync", "role": "physiologist"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("vo2_") and len(secret) > 40 and body["prefix"] == secret[:12]
    row = ApiKey.objects.get(id=body["id"])
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(row.__dict__)
    listed = owner.get(KEYS).json()["results"]
    assert [k["id"] for k in listed] == [body["id"]] and "secret" not in listed[0]
    assert listed[0]["last_used_at"] is None

    token = exchange(secret)
    assert token.status_code == 200, token.content
    claims = jwt.decode(token.json()["access"], options={"verify_signature": False})
    assert claims["sub"] == body["id"] and claims["tid"] == str(lab.id) and claims["roles"] == ["physiologist"]
    assert claims["api_key"] == body["prefix"] and claims["exp"] - claims["iat"] <= 90
    assert owner.get(KEYS + body["id"] + "/").json()["last_used_at"] is not None
    as_key = client_for(token.json()["access"])
    assert as_key.get("/api/v1/tenants/current/").status_code == 200
    kinds = set(AuditEvent.objects.filter(tenant_id=lab.id).values_list("kind", flat=True))
    assert {"api_key.created", "api_key.used"} <= kinds
    used = AuditEvent.objects.get(kind="api_key.used")
    assert used.actor == f"api_key:{body['id']}" and secret not in str(used.data)


def test_revoked_or_expired_keys_are_refused_and_identity_refuses_their_tokens_at_once(make_tenant, session, clock):
    make_tenant("lab-a", "anna@lab-a.test")
    owner = session("anna@lab-a.test")
    key = owner.post(KEYS, {"name": "k", "role": "viewer"}, format="json").json()
    access = exchange(key["secret"]).json()["access"]
    assert owner.delete(KEYS + key["id"] + "/").status_code == 204
    assert owner.delete(KEYS + key["id"]).status_code == 204  # again: still 204
    refused = exchange(key["secret"])
    assert refused.status_code == 401 and refused.json()["type"] == "urn:vo2:problem:invalid-api-key"
    assert client_for(access).get("/api/v1/tenants/current/").status_code == 401
    assert owner.get(KEYS + key["id"]).json()["revoked_at"] is not None

    from datetime import timedelta

    from django.utils import timezone

    soon = (timezone.now() + timedelta(hours=1)).isoformat()
    short = owner.post(KEYS, {"name": "short", "role": "viewer", "expires_at": soon}, format="json").json()
    assert exchange(short["secret"]).status_code == 200
    clock.advance(hours=1, seconds=1)
    assert exchange(short["secret"]).status_code == 401
    assert exchange("vo2_not-a-key").status_code == 401


def test_only_the_gateways_client_credentials_exchange(make_tenant, session, settings):
    make_tenant("lab-a", "anna@lab-a.test")
    key = session("anna@lab-a.test").post(KEYS, {"name": "k", "role": "viewer"}, format="json").json()
    assert exchange(key["secret"], client_secret="wrong").status_code == 401
    # reports is a configured service client, but not one allowed to exchange keys
    reports_secret = settings.SERVICE_CLIENTS["reports"]
    refused = exchange(key["secret"], client_id="reports", client_secret=reports_secret)
    assert refused.status_code == 401 and refused.json()["type"] == "urn:vo2:problem:invalid-client"


@pytest.mark.parametrize("role", ["owner", "athlete", "operator", "service", "nonsense"])
def test_a_key_is_never_owner(make_tenant, session, role):
    make_tenant("lab-a", "anna@lab-a.test")
    refused = session("anna@lab-a.test").post(KEYS, {"name": "k", "role": role}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "role"


def test_an_admin_key_cannot_manage_keys_nor_owners(make_tenant, session):
    make_tenant("lab-a", "anna@lab-a.test")
    owner = session("anna@lab-a.test")
    key = owner.post(KEYS, {"name": "k", "role": "admin"}, format="json").json()
    as_key = client_for(exchange(key["secret"]).json()["access"])
    assert as_key.get(KEYS).status_code == 403
    assert as_key.post(KEYS, {"name": "k2", "role": "admin"}, format="json").status_code == 403
    owner_id = as_key.get("/api/v1/tenants/current/members/").json()["results"][0]["id"]
    assert as_key.patch(f"/api/v1/tenants/current/members/{owner_id}/", {"role": "viewer"},
                        format="json").status_code == 403


def test_tenant_and_role_matrix(make_tenant, add_member, session):
    a = make_tenant("lab-a", "anna@lab-a.test")
    make_tenant("lab-b", "boris@lab-b.test")
    for role in ("admin", "physiologist", "viewer", "athlete"):
        add_member(a, f"{role}@lab-a.test", role)
    owner_a = session("anna@lab-a.test")
    key_a = owner_a.post(KEYS, {"name": "a", "role": "viewer"}, format="json").json()
    admin = session("admin@lab-a.test")
    assert admin.post(KEYS, {"name": "by admin", "role": "admin"}, format="json").status_code == 201
    assert admin.get(KEYS).status_code == 200
    for role in ("physiologist", "viewer", "athlete"):
        member = session(f"{role}@lab-a.test")
        assert member.get(KEYS).status_code == 403
        assert member.post(KEYS, {"name": "x", "role": "viewer"}, format="json").status_code == 403
        assert member.delete(KEYS + key_a["id"] + "/").status_code == 403
    owner_b = session("boris@lab-b.test")
    assert owner_b.get(KEYS).json()["results"] == []
    assert owner_b.get(KEYS + key_a["id"] + "/").status_code == 404
    assert owner_b.delete(KEYS + key_a["id"] + "/").status_code == 404
    assert owner_a.get(KEYS + key_a["id"]).json()["revoked_at"] is None
    # the key's token acts for its own tenant only
    claims = jwt.decode(exchange(key_a["secret"]).json()["access"], options={"verify_signature": False})
    assert claims["tid"] == str(a.id)


def test_the_plans_api_key_quota_answers_403_naming_it(make_tenant, session):
    make_tenant("lab-a", "anna@lab-a.test", plan="trial")  # one live key
    owner = session("anna@lab-a.test")
    first = owner.post(KEYS, {"name": "one", "role": "viewer"}, format="json")
    assert first.status_code == 201
    refused = owner.post(KEYS, {"name": "two", "role": "viewer"}, format="json")
    assert refused.status_code == 403, refused.content
    assert refused.json()["type"] == "urn:vo2:problem:plan-limit" and refused.json()["quota"] == "api_keys"
    owner.delete(KEYS + first.json()["id"])  # a revoked key frees its place
    assert owner.post(KEYS, {"name": "two", "role": "viewer"}, format="json").status_code == 201
