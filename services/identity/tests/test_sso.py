"""SSO with OpenID Connect against a real provider (node oidc-provider, tests/oidc/provider.mjs).

Real protocol behaviour: happy path (JIT provisioning, then linking), wrong state, replayed state, e-mail not
verified, a domain routed to another tenant, a password-only tenant refusing SSO-only... The provider misbehaves on
purpose (its next ID token re-written by the test script, see provider.mjs) for: wrong nonce, expired ID token,
wrong audience, unknown kid, alg none."""
import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from .conftest import PASSWORD, client_for, login
from .sso_provider import Provider

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_A, SECRET_B = "lab-a-client-secret-0123456789", "lab-b-client-secret-0123456789"


@pytest.fixture(scope="module")
def provider():
    redirect = [settings.SSO_REDIRECT_URL]
    running = Provider([
        {"client_id": "lab-a", "client_secret": SECRET_A, "redirect_uris": redirect},
        {"client_id": "lab-b", "client_secret": SECRET_B, "redirect_uris": redirect},
    ])
    yield running
    running.stop()


def configure(owner, provider, client_id="lab-a", secret=SECRET_A, domains=("lab-a.test",), **extra):
    body = {"issuer": provider.issuer, "client_id": client_id, "client_secret": secret,
            "email_domains": list(domains), "default_role": "physiologist", **extra}
    return owner.put("/api/v1/tenants/current/sso", body, format="json")


def start(slug, email):
    response = APIClient().get(f"/api/v1/auth/sso/{slug}/start", {"login_hint": email})
    assert response.status_code == 302, response.content
    return response["Location"]


def callback(query):
    return APIClient().get("/api/v1/auth/sso/callback", query)


def sign_in(provider, slug, email):
    return callback(provider.authorize(start(slug, email)))


@pytest.fixture
def lab_a(make_tenant, session, provider):
    make_tenant("lab-a", "owner@lab-a.test")
    owner = session("owner@lab-a.test")
    assert configure(owner, provider).status_code == 200
    return owner


def test_happy_path_provisions_then_links_and_answers_tokens_like_password_login(lab_a, provider):
    provider.add_account("nina@lab-a.test", name="Nina SSO")
    location = start("lab-a", "nina@lab-a.test")
    assert "code_challenge_method=S256" in location and "nonce=" in location and "state=" in location
    answer = callback(provider.authorize(location))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    me = client_for(body["access"]).get("/api/v1/auth/me").json()
    assert me["user"]["email"] == "nina@lab-a.test" and me["roles"] == ["physiologist"]
    assert me["user"]["full_name"] == "Nina SSO"
    # the provisioned account has no password: password login is refused like any wrong password
    assert login("nina@lab-a.test", PASSWORD).status_code == 401
    # a second sign-in finds the linked subject: same user, no second membership
    again = sign_in(provider, "lab-a", "nina@lab-a.test")
    assert again.status_code == 200
    assert client_for(again.json()["access"]).get("/api/v1/auth/me").json()["user"]["id"] == me["user"]["id"]
    members = lab_a.get("/api/v1/tenants/current/members/", {"email": "nina@"}).json()["results"]
    assert len(members) == 1


def test_an_existing_member_is_linked_by_verified_email_and_keeps_the_role(lab_a, provider, add_member):
    from identity.tenants.models import Tenant

    add_member(Tenant.objects.get(slug="lab-a"), "vera@lab-a.test", "viewer")
    provider.add_account("vera@lab-a.test")
    answer = sign_in(provider, "lab-a", "vera@lab-a.test")
    assert answer.status_code == 200, answer.content
    assert client_for(answer.json()["access"]).get("/api/v1/auth/me").json()["roles"] == ["viewer"]


def test_wrong_state_and_replayed_state_are_refused(lab_a, provider):
    provider.add_account("sam@lab-a.test")
    query = provider.authorize(start("lab-a", "sam@lab-a.test"))
    wrong = callback({**query, "state": "x" * 43})
    assert wrong.status_code == 400 and wrong.json()["type"] == "urn:vo2:problem:sso-state-invalid"
    assert callback(query).status_code == 200
    replayed = callback(query)
    assert replayed.status_code == 400 and replayed.json()["type"] == "urn:vo2:problem:sso-state-invalid"


def test_an_answer_naming_another_issuer_is_refused(lab_a, provider):
    provider.add_account("mix@lab-a.test")
    query = provider.authorize(start("lab-a", "mix@lab-a.test"))
    assert query["iss"] == provider.issuer  # oidc-provider sends RFC 9207's iss with the code
    answer = callback({**query, "iss": "https://idp.attacker.test"})
    assert answer.status_code == 401 and answer.json()["type"] == "urn:vo2:problem:sso-refused"


def test_an_expired_state_is_refused(lab_a, provider, clock):
    provider.add_account("late@lab-a.test")
    query = provider.authorize(start("lab-a", "late@lab-a.test"))
    clock.advance(seconds=settings.SSO_STATE_TTL_S + 1)
    assert callback(query).json()["type"] == "urn:vo2:problem:sso-state-invalid"


@pytest.mark.parametrize("mode, reason", [
    ("nonce", "nonce"), ("expired", "exp"), ("audience", "aud"), ("unknown-kid", "kid"), ("alg-none", "algorithm"),
])
def test_a_forged_or_wrong_id_token_is_refused(lab_a, provider, mode, reason):
    provider.add_account("eve@lab-a.test")
    query = provider.authorize(start("lab-a", "eve@lab-a.test"))
    provider.tamper_next_id_token(mode)
    answer = callback(query)
    assert answer.status_code == 401, answer.content
    assert answer.json()["type"] == "urn:vo2:problem:sso-id-token-invalid"
    assert reason in answer.json()["detail"]
    assert lab_a.get("/api/v1/tenants/current/members/", {"email": "eve@"}).json()["results"] == []


def test_an_unverified_email_is_refused(lab_a, provider):
    provider.add_account("unverified@lab-a.test", email_verified=False)
    answer = sign_in(provider, "lab-a", "unverified@lab-a.test")
    assert answer.status_code == 403 and answer.json()["type"] == "urn:vo2:problem:sso-email-unverified"


def test_a_domain_routed_to_another_tenant_is_refused(lab_a, provider, make_tenant, session):
    make_tenant("lab-b", "owner@lab-b.test")
    owner_b = session("owner@lab-b.test")
    assert configure(owner_b, provider, "lab-b", SECRET_B, domains=("lab-a.test",)).status_code == 409  # taken
    assert configure(owner_b, provider, "lab-b", SECRET_B, domains=("lab-b.test",)).status_code == 200
    provider.add_account("boris@lab-b.test")
    answer = sign_in(provider, "lab-a", "boris@lab-b.test")  # lab-a's provider vouches for a lab-b address
    assert answer.status_code == 403 and answer.json()["type"] == "urn:vo2:problem:sso-domain-mismatch"
    assert sign_in(provider, "lab-b", "boris@lab-b.test").status_code == 200


def test_an_address_outside_the_tenants_domains_is_not_provisioned(lab_a, provider):
    provider.add_account("stranger@elsewhere.test")
    answer = sign_in(provider, "lab-a", "stranger@elsewhere.test")
    assert answer.status_code == 403 and answer.json()["type"] == "urn:vo2:problem:no-membership"


def test_discover_routes_by_domain_and_reveals_no_accounts(lab_a, provider):
    anonymous = APIClient()
    known = anonymous.post("/api/v1/auth/login/discover", {"email": "owner@lab-a.test"}, format="json").json()
    unknown = anonymous.post("/api/v1/auth/login/discover", {"email": "nobody@lab-a.test"}, format="json").json()
    assert known == unknown == {"method": "sso", "tenant": "lab-a", "start_url": "/api/v1/auth/sso/lab-a/start",
                                "password_login_allowed": True}
    other = anonymous.post("/api/v1/auth/login/discover", {"email": "someone@gmail.test"}, format="json").json()
    assert other == {"method": "password"}


def test_sso_only_tenants_refuse_password_login(lab_a, provider):
    assert configure(lab_a, provider, password_login_allowed=False).status_code == 200
    refused = login("owner@lab-a.test")
    assert refused.status_code == 403 and refused.json()["type"] == "urn:vo2:problem:sso-required"


def test_the_client_secret_is_stored_encrypted_and_never_answered(lab_a, provider):
    from identity.sso.models import SSOProvider

    stored = SSOProvider.objects.get()
    assert SECRET_A not in stored.client_secret_encrypted
    shown = lab_a.get("/api/v1/tenants/current/sso").json()
    assert "client_secret" not in shown and shown["has_client_secret"] is True
    assert shown["email_domains"] == ["lab-a.test"] and shown["redirect_uri"] == settings.SSO_REDIRECT_URL
    # a change without a secret keeps the stored one
    body = {"issuer": provider.issuer, "client_id": "lab-a", "email_domains": ["lab-a.test"]}
    assert lab_a.put("/api/v1/tenants/current/sso", body, format="json").status_code == 200
    provider.add_account("kept@lab-a.test")
    assert sign_in(provider, "lab-a", "kept@lab-a.test").status_code == 200


def test_configuration_checks_the_issuer(lab_a, provider):
    body = {"issuer": "http://203.0.113.9/", "client_id": "x", "client_secret": "y"}
    assert lab_a.put("/api/v1/tenants/current/sso", body, format="json").status_code == 400
    for internal in ("https://10.0.0.5/", "https://169.254.169.254/", "https://localhost/", "https://[::1]/"):
        body["issuer"] = internal  # identity fetches the issuer itself: no internal addresses (SSRF)
        refused = lab_a.put("/api/v1/tenants/current/sso", body, format="json")
        assert refused.status_code == 400 and "public address" in refused.json()["detail"], internal
    body["issuer"] = provider.issuer + "/nothing-here"
    refused = lab_a.put("/api/v1/tenants/current/sso", body, format="json")
    assert refused.status_code == 400 and refused.json()["type"] == "urn:vo2:problem:sso-discovery-failed"


@pytest.mark.parametrize("role", ["admin", "physiologist", "athlete", "viewer"])
def test_role_matrix_for_the_sso_configuration(lab_a, provider, add_member, session, role):
    from identity.tenants.models import Tenant

    add_member(Tenant.objects.get(slug="lab-a"), f"{role}@lab-a.test", role)
    member = session(f"{role}@lab-a.test")
    expected = 200 if role == "admin" else 403
    assert member.get("/api/v1/tenants/current/sso").status_code == expected
    assert configure(member, provider).status_code == expected
    assert member.delete("/api/v1/tenants/current/sso").status_code == (204 if role == "admin" else 403)


def test_another_tenant_sees_only_its_own_configuration(lab_a, provider, make_tenant, session):
    make_tenant("lab-b", "owner@lab-b.test")
    owner_b = session("owner@lab-b.test")
    assert owner_b.get("/api/v1/tenants/current/sso").status_code == 404
    assert owner_b.delete("/api/v1/tenants/current/sso").status_code == 404
    assert lab_a.get("/api/v1/tenants/current/sso").status_code == 200  # untouched
    assert APIClient().get("/api/v1/auth/sso/lab-b/start").status_code == 404
    assert APIClient().get("/api/v1/tenants/current/sso").status_code == 401


def test_the_access_token_is_ours(lab_a, provider):
    provider.add_account("tok@lab-a.test")
    access = sign_in(provider, "lab-a", "tok@lab-a.test").json()["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["iss"] == settings.JWT_ISSUER and claims["aud"] == settings.JWT_AUDIENCE and claims["sid"]


def test_a_deactivated_member_is_not_let_back_in_and_the_refusal_is_audited(lab_a, provider, add_member):
    from identity.accounts.actions import deactivate_member
    from identity.accounts.models import Membership
    from identity.audit.models import AuditEvent
    from identity.tenants.models import Tenant
    from identity.tenants.scope import tenant_scope

    tenant = Tenant.objects.get(slug="lab-a")
    membership = add_member(tenant, "gone@lab-a.test", "viewer")
    with tenant_scope(tenant.id):
        deactivate_member(Membership.objects.get(id=membership.id), by=None)
    provider.add_account("gone@lab-a.test")
    answer = sign_in(provider, "lab-a", "gone@lab-a.test")
    assert answer.status_code == 403 and answer.json()["type"] == "urn:vo2:problem:no-membership"
    refused = AuditEvent.objects.filter(kind="sso.refused", tenant_id=tenant.id).values_list("data", flat=True)
    assert {"reason": "no-membership"} in list(refused)
