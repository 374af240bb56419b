"""The tenant's security audit log (issue 16 item 7): every security-relevant event, filters, cursor pages, the
tenant's own events only, managers only."""
import pyotp
import pytest

from .conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)
AUDIT = "/api/v1/tenants/current/audit/"


def kinds(client, **params):
    answer = client.get(AUDIT, params)
    assert answer.status_code == 200, answer.content
    return [e["kind"] for e in answer.json()["results"]]


def test_every_security_event_lands_in_the_tenants_log(make_tenant, add_member, session, settings):
    from identity.accounts.actions import create_user, make_operator

    settings.LOGIN_MAX_FAILURES = 2
    settings.SERVICE_CLIENTS = {**settings.SERVICE_CLIENTS, "gateway": "gw-secret-123"}
    lab = make_tenant("lab-a", "anna@lab-a.test")
    add_member(lab, "vera@lab-a.test", "viewer")
    owner = session("anna@lab-a.test")
    login("vera@lab-a.test", "wrong-password-1")
    login("vera@lab-a.test", "wrong-password-1")  # locked now
    vera_id = next(m["user_id"] for m in owner.get("/api/v1/tenants/current/members/").json()["results"]
                   if m["email"] == "vera@lab-a.test")
    member_id = next(m["id"] for m in owner.get("/api/v1/tenants/current/members/").json()["results"]
                     if m["email"] == "vera@lab-a.test")
    owner.patch(f"/api/v1/tenants/current/members/{member_id}/", {"role": "physiologist"}, format="json")
    secret = owner.post("/api/v1/auth/mfa/totp").json()["secret"]
    owner.post("/api/v1/auth/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()}, format="json")
    key = owner.post("/api/v1/tenants/current/api-keys/", {"name": "k", "role": "viewer"}, format="json").json()
    from rest_framework.test import APIClient

    APIClient().post("/api/v1/auth/api-keys/exchange", {"client_id": "gateway", "client_secret": "gw-secret-123",
                                                        "api_key": key["secret"]}, format="json")
    owner.delete(f"/api/v1/tenants/current/api-keys/{key['id']}/")
    make_operator(create_user("ops@platform.test", PASSWORD))
    session("ops@platform.test").patch(f"/api/v1/tenants/{lab.id}/", {"plan": "lab"}, format="json")

    seen = set(kinds(owner, page_size=200))
    assert {"login.succeeded", "login.failed", "login.locked", "member.changed", "mfa.enrolment_started",
            "mfa.enabled", "api_key.created", "api_key.used", "api_key.revoked", "tenant.plan_changed"} <= seen
    assert set(kinds(owner, subject_user_id=vera_id)) >= {"login.failed", "login.locked", "member.changed"}
    assert set(kinds(owner, category="api_key")) == {"api_key.created", "api_key.used", "api_key.revoked"}
    assert set(kinds(owner, kind=["login.failed", "login.locked"])) == {"login.failed", "login.locked"}
    assert set(kinds(owner, actor=f"api_key:{key['id']}")) == {"api_key.used"}
    assert set(kinds(owner, api_key_id=key["id"])) == {"api_key.created", "api_key.used", "api_key.revoked"}
    assert kinds(owner, since="2999-01-01T00:00:00Z") == []
    assert owner.get(AUDIT, {"kind": "no.such"}).status_code == 400


def test_cursor_pages_and_the_tenant_and_role_matrix(make_tenant, add_member, session):
    lab = make_tenant("lab-a", "anna@lab-a.test")
    make_tenant("lab-b", "boris@lab-b.test")
    for role in ("admin", "physiologist", "viewer", "athlete"):
        add_member(lab, f"{role}@lab-a.test", role)
    for _ in range(3):
        login("anna@lab-a.test", "wrong-password-1")
    owner = session("anna@lab-a.test")
    first = owner.get(AUDIT, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = owner.get(first["next"]).json()
    assert {e["id"] for e in second["results"]}.isdisjoint({e["id"] for e in first["results"]})
    assert owner.get(AUDIT, {"cursor": "forged"}).status_code == 400
    assert session("admin@lab-a.test").get(AUDIT).status_code == 200
    for role in ("physiologist", "viewer", "athlete"):
        assert session(f"{role}@lab-a.test").get(AUDIT).status_code == 403
    other = session("boris@lab-b.test")
    assert "login.failed" not in kinds(other, page_size=200)  # lab-a's member's failures are lab-a's
    anna_id = owner.get("/api/v1/auth/me").json()["user"]["id"]
    theirs = other.get(AUDIT, {"page_size": 200}).json()["results"]
    assert theirs and all(e["subject_user_id"] != anna_id for e in theirs)
    assert other.get(AUDIT, {"subject_user_id": anna_id}).json()["results"] == []
