"""Issue 16 item 1, the refusals, through the gateway over HTTP in both modes, against the real OpenID provider
(node oidc-provider, made to misbehave by the same controls as identity's own SSO tests: services/identity/tests/
sso_provider.py + oidc/provider.mjs). Each refusal names its problem, answers no tokens, opens no session (no
`sso.login` in the tenant's audit log) and provisions nobody."""
import importlib.util
import uuid
from pathlib import Path

import httpx
import pytest

from .conftest import Api

# the provider's test-data script and its driver, shared with identity's tests by path (no service code imported)
_spec = importlib.util.spec_from_file_location(
    "identity_sso_provider", Path(__file__).parents[2] / "services" / "identity" / "tests" / "sso_provider.py")
sso_provider = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sso_provider)

FIRST_SECRET, SECOND_SECRET = "first-lab-sso-failures-secret-42", "second-lab-sso-failures-secret-42"


@pytest.fixture(scope="module")
def provider(gateway):
    redirect = [f"{gateway}/api/v1/auth/sso/callback"]
    running = sso_provider.Provider([
        {"client_id": "first-lab", "client_secret": FIRST_SECRET, "redirect_uris": redirect},
        {"client_id": "second-lab", "client_secret": SECOND_SECRET, "redirect_uris": redirect},
    ])
    yield running
    running.stop()


@pytest.fixture(scope="module")
def domain(owner, provider):
    """first-lab signs in through the provider for a domain of its own (removed afterwards)."""
    routed = f"sso-fail-{uuid.uuid4().hex[:6]}.test"
    configured = owner.put("/api/v1/tenants/current/sso", {
        "issuer": provider.issuer, "client_id": "first-lab", "client_secret": FIRST_SECRET,
        "email_domains": [routed], "default_role": "viewer"})
    assert configured.status_code == 200, configured.text
    yield routed
    assert owner.delete("/api/v1/tenants/current/sso").status_code == 204


def anonymous(gateway) -> httpx.Client:
    return httpx.Client(base_url=gateway, timeout=30)


def authorize(gateway, provider, slug: str, email: str) -> dict:
    """Start at the gateway, let the provider sign `email` in; the query the provider sends the browser back with."""
    started = anonymous(gateway).get(f"/api/v1/auth/sso/{slug}/start", params={"login_hint": email})
    assert started.status_code == 302, started.text
    return provider.authorize(started.headers["location"])


def newest_event(api: Api, kind: str) -> str | None:
    events = api.get("/api/v1/tenants/current/audit/", params={"kind": kind})
    assert events.status_code == 200, events.text
    results = events.json()["results"]
    return results[0]["id"] if results else None


def members(api: Api, email: str) -> list:
    listed = api.get("/api/v1/tenants/current/members/", params={"email": email})
    assert listed.status_code == 200, listed.text
    return listed.json()["results"]


def assert_refused(answer: httpx.Response, status: int, problem: str):
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    body = answer.json()
    assert body["type"] == f"urn:vo2:problem:{problem}", body
    assert not {"access", "refresh"} & set(body), body  # no tokens in the refusal
    return body


def assert_nobody_signed_in(owner: Api, email: str, sessions_before: str | None):
    assert members(owner, email) == [], f"{email} was provisioned"
    assert newest_event(owner, "sso.login") == sessions_before, "a session was opened (sso.login audited)"


def test_wrong_state_is_refused(owner, gateway, provider, domain):
    email = f"wrong-state@{domain}"
    provider.add_account(email)
    query = authorize(gateway, provider, "first-lab", email)
    before = newest_event(owner, "sso.login")
    answer = anonymous(gateway).get("/api/v1/auth/sso/callback", params={**query, "state": "x" * 43})
    assert_refused(answer, 400, "sso-state-invalid")
    assert_nobody_signed_in(owner, email, before)


def test_replayed_state_is_refused_and_opens_no_second_session(owner, gateway, provider, domain):
    email = f"replay@{domain}"
    provider.add_account(email)
    query = authorize(gateway, provider, "first-lab", email)
    first = anonymous(gateway).get("/api/v1/auth/sso/callback", params=query)
    assert first.status_code == 200, first.text
    assert len(members(owner, email)) == 1  # provisioned once, by the first use
    after_first = newest_event(owner, "sso.login")
    assert after_first is not None
    replayed = anonymous(gateway).get("/api/v1/auth/sso/callback", params=query)
    assert_refused(replayed, 400, "sso-state-invalid")
    assert len(members(owner, email)) == 1
    assert newest_event(owner, "sso.login") == after_first, "the replay opened a second session"


@pytest.mark.parametrize("mode, reason", [
    ("nonce", "nonce"), ("expired", "exp"), ("audience", "aud"), ("unknown-kid", "kid"), ("alg-none", "algorithm"),
])
def test_a_wrong_or_forged_id_token_is_refused(owner, gateway, provider, domain, mode, reason):
    email = f"forged-{mode}@{domain}"
    provider.add_account(email)
    query = authorize(gateway, provider, "first-lab", email)
    before = newest_event(owner, "sso.login")
    provider.tamper_next_id_token(mode)  # the provider re-writes the ID token of its next token answer
    answer = anonymous(gateway).get("/api/v1/auth/sso/callback", params=query)
    body = assert_refused(answer, 401, "sso-id-token-invalid")
    assert reason in body["detail"], body
    assert_nobody_signed_in(owner, email, before)


def test_an_unverified_email_is_refused(owner, gateway, provider, domain):
    email = f"unverified@{domain}"
    provider.add_account(email, email_verified=False)
    query = authorize(gateway, provider, "first-lab", email)
    before = newest_event(owner, "sso.login")
    answer = anonymous(gateway).get("/api/v1/auth/sso/callback", params=query)
    assert_refused(answer, 403, "sso-email-unverified")
    assert_nobody_signed_in(owner, email, before)


def test_a_domain_routed_to_another_tenant_is_refused(owner, second_lab, gateway, provider, domain):
    other_domain = f"sso-second-{uuid.uuid4().hex[:6]}.test"
    taken = second_lab.put("/api/v1/tenants/current/sso", {
        "issuer": provider.issuer, "client_id": "second-lab", "client_secret": SECOND_SECRET,
        "email_domains": [domain]})
    assert taken.status_code == 409, taken.text  # first-lab's domain cannot be claimed by another tenant
    configured = second_lab.put("/api/v1/tenants/current/sso", {
        "issuer": provider.issuer, "client_id": "second-lab", "client_secret": SECOND_SECRET,
        "email_domains": [other_domain], "default_role": "viewer"})
    assert configured.status_code == 200, configured.text
    try:
        email = f"boris@{other_domain}"
        provider.add_account(email)
        before_first, before_second = newest_event(owner, "sso.login"), newest_event(second_lab, "sso.login")
        # first-lab's provider vouches for an address whose domain signs in to second-lab
        query = authorize(gateway, provider, "first-lab", email)
        answer = anonymous(gateway).get("/api/v1/auth/sso/callback", params=query)
        assert_refused(answer, 403, "sso-domain-mismatch")
        assert_nobody_signed_in(owner, email, before_first)
        assert_nobody_signed_in(second_lab, email, before_second)
        # the same person through the tenant the domain routes to is let in: the refusal was the routing
        query = authorize(gateway, provider, "second-lab", email)
        signed_in = anonymous(gateway).get("/api/v1/auth/sso/callback", params=query)
        assert signed_in.status_code == 200, signed_in.text
        me = Api(gateway, signed_in.json()["access"]).get("/api/v1/auth/me").json()
        assert me["roles"] == ["viewer"] and len(members(second_lab, email)) == 1
        assert members(owner, email) == []
    finally:
        assert second_lab.delete("/api/v1/tenants/current/sso").status_code == 204
