import time

import jwt
import pytest
from rest_framework.test import APIClient

from servicekit.jwt import InvalidToken, JWKSCache, TokenVerifier

from .conftest import client_for, login

pytestmark = pytest.mark.django_db(transaction=True)


def served_jwks():
    response = APIClient().get("/.well-known/jwks.json")
    assert response.status_code == 200
    return response


def kit_verifier():
    """The verifier every other service and the gateway use, fed the JWKS document identity serves."""
    return TokenVerifier(JWKSCache(lambda: served_jwks().json()), issuer="vo2max-identity", audience="vo2max-api")


def refresh(token):
    return APIClient().post("/api/v1/auth/refresh", {"refresh": token}, format="json")


def test_access_token_verifies_with_the_kit_against_the_served_jwks_and_has_exactly_the_claims(make_tenant):
    tenant = make_tenant("lab-a", "anna@lab-a.test")
    before = int(time.time())
    access = login("anna@lab-a.test").json()["access"]

    header = jwt.get_unverified_header(access)
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt"
    jwks = served_jwks()
    assert [k["kid"] for k in jwks.json()["keys"]] == [header["kid"]]
    assert "max-age=" in jwks["Cache-Control"]
    assert all("d" not in k and "p" not in k for k in jwks.json()["keys"])  # public halves only

    principal = kit_verifier().verify(access)
    claims = principal.claims
    assert set(claims) - {"sid"} == {"iss", "aud", "sub", "tid", "roles", "exp", "iat", "nbf", "jti", "plan"}
    assert claims["plan"]["name"] == "starter" and claims["plan"]["read_only_from"] is None  # tenants.plans
    from identity.accounts.queries import user_by_email

    assert claims["sub"] == str(user_by_email("anna@lab-a.test").id) == principal.user_id
    assert claims["tid"] == str(tenant.id) == principal.tenant_id
    assert claims["roles"] == ["owner"] and claims["iss"] == "vo2max-identity" and claims["aud"] == "vo2max-api"
    assert before <= claims["iat"] == claims["nbf"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 600


def test_a_fresh_install_publishes_its_first_key_on_first_use():
    from identity.tokens.models import SigningKey

    assert SigningKey.objects.count() == 0
    keys = served_jwks().json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    assert served_jwks().json()["keys"] == keys  # and only one


def test_private_keys_are_encrypted_at_rest(settings):
    from identity.tokens import crypto
    from identity.tokens.models import SigningKey

    served_jwks()
    key = SigningKey.objects.get()
    assert "PRIVATE KEY" not in key.private_key_encrypted
    crypto.private_key.cache_clear()
    settings.SIGNING_KEY_SECRET = "another-secret-entirely"
    with pytest.raises(crypto.KeyDecryptionError):
        crypto.private_key(key.kid, key.private_key_encrypted)
    crypto.private_key.cache_clear()


def test_refresh_rotates_the_pair(make_tenant):
    make_tenant("lab-a", "anna@lab-a.test")
    first = login("anna@lab-a.test").json()
    second = refresh(first["refresh"])
    assert second.status_code == 200, second.content
    assert set(second.json()) == {"access", "refresh", "token_type", "expires_in"}
    assert second.json()["refresh"] != first["refresh"] and second.json()["access"] != first["access"]
    assert kit_verifier().verify(second.json()["access"]).roles == {"owner"}
    third = refresh(second.json()["refresh"])
    assert third.status_code == 200


def test_reusing_a_used_refresh_token_revokes_the_whole_family(make_tenant):
    from identity.audit.models import AuditEvent

    make_tenant("lab-a", "anna@lab-a.test")
    stolen = login("anna@lab-a.test").json()["refresh"]
    other_session = login("anna@lab-a.test").json()["refresh"]
    newest = refresh(stolen).json()["refresh"]

    reused = refresh(stolen)
    assert reused.status_code == 401 and reused.json()["type"] == "urn:vo2:problem:invalid-refresh-token"
    assert refresh(newest).status_code == 401  # the newest of the family fails too
    assert AuditEvent.objects.filter(kind="token.refresh_reused").count() == 1
    assert refresh(other_session).status_code == 200  # another login's family is untouched


def test_unknown_and_expired_refresh_tokens_fail(make_tenant, clock):
    make_tenant("lab-a", "anna@lab-a.test")
    assert refresh("made-up").status_code == 401
    token = login("anna@lab-a.test").json()["refresh"]
    clock.advance(days=30, seconds=1)
    assert refresh(token).status_code == 401


def test_logout_revokes_the_family(make_tenant):
    make_tenant("lab-a", "anna@lab-a.test")
    first = login("anna@lab-a.test").json()["refresh"]
    second = refresh(first).json()["refresh"]
    response = APIClient().post("/api/v1/auth/logout", {"refresh": second}, format="json")
    assert response.status_code == 204
    assert refresh(second).status_code == 401
    assert APIClient().post("/api/v1/auth/logout", {"refresh": "made-up"}, format="json").status_code == 204


def test_a_deactivated_user_can_neither_refresh_nor_use_a_still_valid_access_token(make_tenant):
    from identity.accounts.actions import deactivate_user
    from identity.accounts.queries import user_by_email

    make_tenant("lab-a", "anna@lab-a.test")
    tokens = login("anna@lab-a.test").json()
    me = client_for(tokens["access"])
    assert me.get("/api/v1/auth/me").status_code == 200

    deactivate_user(user_by_email("anna@lab-a.test"))
    assert kit_verifier().verify(tokens["access"])  # still valid as a JWT...
    response = me.get("/api/v1/auth/me")  # ...but identity refuses it at once
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
    assert refresh(tokens["refresh"]).status_code == 401


def test_identity_trusts_only_its_own_keys(make_tenant, signing_keys):
    """The test keys the kit's default verifier would accept (JWT_JWKS_URL) mean nothing to identity."""
    tenant = make_tenant("lab-a", "anna@lab-a.test")
    from identity.accounts.queries import user_by_email

    forged = signing_keys.token(sub=str(user_by_email("anna@lab-a.test").id), tid=str(tenant.id), roles=["owner"])
    assert client_for(forged).get("/api/v1/auth/me").status_code == 401
    assert client_for("not.a.jwt").get("/api/v1/auth/me").status_code == 401
    assert APIClient().get("/api/v1/auth/me").status_code == 401


def test_rotation_logs_nobody_out_and_the_old_key_leaves_the_jwks_after_its_tokens_expired(make_tenant, clock):
    from django.core.management import call_command

    from identity.tokens.models import SigningKey

    make_tenant("lab-a", "anna@lab-a.test")
    before = login("anna@lab-a.test").json()
    old_kid = jwt.get_unverified_header(before["access"])["kid"]

    call_command("rotate_signing_key", stdout=open("/dev/null", "w"))
    after = login("anna@lab-a.test").json()
    new_kid = jwt.get_unverified_header(after["access"])["kid"]
    assert new_kid != old_kid
    assert {k["kid"] for k in served_jwks().json()["keys"]} == {old_kid, new_kid}
    verifier = kit_verifier()
    assert verifier.verify(before["access"]).user_id == verifier.verify(after["access"]).user_id
    assert client_for(before["access"]).get("/api/v1/auth/me").status_code == 200
    assert client_for(after["access"]).get("/api/v1/auth/me").status_code == 200
    assert refresh(before["refresh"]).status_code == 200  # sessions survive rotation

    clock.advance(seconds=600 + 30 - 5)  # access lifetime + leeway, not yet over
    assert {k["kid"] for k in served_jwks().json()["keys"]} == {old_kid, new_kid}
    clock.advance(seconds=10)
    assert [k["kid"] for k in served_jwks().json()["keys"]] == [new_kid]
    with pytest.raises(InvalidToken):
        kit_verifier().verify(before["access"])

    call_command("rotate_signing_key", "--retire-only", stdout=open("/dev/null", "w"))
    assert SigningKey.objects.get(kid=old_kid).state == "retired"
    assert SigningKey.objects.get(kid=new_kid).state == "active"


def test_service_token_for_a_configured_client(make_tenant, settings):
    tenant = make_tenant("lab-a", "anna@lab-a.test")
    secret = settings.SERVICE_CLIENTS["reports"]
    body = {"client_id": "reports", "client_secret": secret, "tenant": "lab-a"}
    response = APIClient().post("/api/v1/auth/service-token", body, format="json")
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "token_type", "expires_in"}
    principal = kit_verifier().verify(response.json()["access"])
    assert principal.user_id == "service:reports" and principal.tenant_id == str(tenant.id)
    assert principal.roles == {"service"} and principal.is_service
    by_id = APIClient().post("/api/v1/auth/service-token", {**body, "tenant": str(tenant.id)}, format="json")
    assert kit_verifier().verify(by_id.json()["access"]).tenant_id == str(tenant.id)

    # A service is no tenant manager and no user.
    service = client_for(response.json()["access"])
    assert service.get("/api/v1/tenants/current/members/").status_code == 403
    assert service.get("/api/v1/auth/me").status_code == 403
    assert service.get("/api/v1/tenants/current/").json()["slug"] == "lab-a"

    for wrong in ({**body, "client_secret": secret + "x"}, {**body, "client_id": "nobody"}):
        refused = APIClient().post("/api/v1/auth/service-token", wrong, format="json")
        assert refused.status_code == 401 and refused.json()["type"] == "urn:vo2:problem:invalid-client"
    assert APIClient().post("/api/v1/auth/service-token", {**body, "tenant": "nowhere"},
                            format="json").status_code == 404

    settings.SERVICE_CLIENTS = {"notifications": "another-secret-value"}  # the client is withdrawn
    assert service.get("/api/v1/tenants/current/").status_code == 401


def test_service_clients_follow_the_secret_rules(monkeypatch):
    from servicekit.config import ConfigError

    from identity.settings import service_clients

    monkeypatch.setenv("VO2_MODE", "saas")
    monkeypatch.setenv("SERVICE_CLIENTS", "reports:s3cret-value,notifications")
    monkeypatch.setenv("SERVICE_CLIENT_NOTIFICATIONS_SECRET", "from-its-own-variable")
    assert service_clients() == {"reports": "s3cret-value", "notifications": "from-its-own-variable"}
    monkeypatch.delenv("SERVICE_CLIENT_NOTIFICATIONS_SECRET")
    with pytest.raises(ConfigError):
        service_clients()
    monkeypatch.setenv("SERVICE_CLIENTS", "reports:dev-insecure-x")
    with pytest.raises(ConfigError):
        service_clients()
    monkeypatch.setenv("VO2_MODE", "local")
    assert service_clients()["reports"] == "dev-insecure-x"
