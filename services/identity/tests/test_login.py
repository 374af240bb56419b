import pytest

from .conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_answers_a_token_pair(make_tenant):
    make_tenant("lab-a", "Anna@Lab-A.test")
    response = login("anna@lab-a.test")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert login(" ANNA@LAB-A.TEST ").status_code == 200  # e-mail is case-insensitive


def test_wrong_password_and_unknown_email_get_the_same_answer(make_tenant):
    make_tenant("lab-a", "anna@lab-a.test")
    wrong = login("anna@lab-a.test", "not-the-password-1")
    unknown = login("nobody@lab-a.test", "not-the-password-1")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong["Content-Type"] == "application/problem+json"
    assert wrong.json() == unknown.json()
    assert wrong.json()["type"] == "urn:vo2:problem:invalid-credentials"


def test_a_user_in_two_tenants_must_choose_and_learns_their_tenants_only_after_the_password(make_tenant, add_member):
    import jwt

    a = make_tenant("lab-a", "anna@lab-a.test")
    b = make_tenant("lab-b", "boris@lab-b.test")
    add_member(b, "anna@lab-a.test", "physiologist")

    undecided = login("anna@lab-a.test")
    assert undecided.status_code == 400
    assert undecided.json()["type"] == "urn:vo2:problem:tenant-required"
    assert undecided.json()["tenants"] == ["lab-a", "lab-b"]

    guessing = login("anna@lab-a.test", "not-the-password-1")
    assert guessing.status_code == 401 and "tenants" not in guessing.json()

    chosen = login("anna@lab-a.test", tenant="lab-b")
    assert chosen.status_code == 200
    claims = jwt.decode(chosen.json()["access"], options={"verify_signature": False})
    assert claims["tid"] == str(b.id) and claims["roles"] == ["physiologist"]
    own = jwt.decode(login("anna@lab-a.test", tenant="lab-a").json()["access"], options={"verify_signature": False})
    assert own["tid"] == str(a.id) and own["roles"] == ["owner"]

    elsewhere = login("anna@lab-a.test", tenant="lab-zzz")
    assert elsewhere.status_code == 400 and elsewhere.json()["tenants"] == ["lab-a", "lab-b"]


def test_lockout_answers_exactly_like_a_wrong_password_and_lifts_after_the_window(make_tenant, settings, clock):
    from identity.audit.models import AuditEvent

    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_S = 600
    make_tenant("lab-a", "anna@lab-a.test")
    wrong = [login("anna@lab-a.test", "not-the-password-1") for _ in range(3)]
    assert {r.status_code for r in wrong} == {401}

    locked = login("anna@lab-a.test", PASSWORD)  # the right password, while locked
    assert locked.status_code == wrong[0].status_code
    assert locked.content == wrong[0].content
    assert locked["Content-Type"] == wrong[0]["Content-Type"]
    assert AuditEvent.objects.filter(kind="login.locked").count() == 1

    clock.advance(seconds=599)
    assert login("anna@lab-a.test", PASSWORD).status_code == 401
    clock.advance(seconds=2)
    assert login("anna@lab-a.test", PASSWORD).status_code == 200


def test_failures_outside_the_window_do_not_add_up(make_tenant, settings, clock):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_S = 600
    make_tenant("lab-a", "anna@lab-a.test")
    for _ in range(2):
        login("anna@lab-a.test", "not-the-password-1")
    clock.advance(seconds=601)
    login("anna@lab-a.test", "not-the-password-1")
    assert login("anna@lab-a.test").status_code == 200


def test_the_hasher_runs_once_whatever_the_case(make_tenant, monkeypatch, settings):
    """Similar timing: unknown e-mails, wrong passwords, locked and passwordless accounts all pay one hash."""
    from identity.accounts import passwords
    from identity.accounts.actions import create_user

    settings.LOGIN_MAX_FAILURES = 2
    make_tenant("lab-a", "anna@lab-a.test")
    create_user("sso@lab-a.test", None)
    calls = []
    real = passwords.check_password
    monkeypatch.setattr(passwords, "check_password", lambda *a, **k: calls.append(1) or real(*a, **k))
    cases = [("nobody@lab-a.test", "x-password-1"), ("sso@lab-a.test", "x-password-1"),
             ("anna@lab-a.test", "x-password-1"), ("anna@lab-a.test", "x-password-1"),  # now locked
             ("anna@lab-a.test", PASSWORD)]
    for email, password in cases:
        calls.clear()
        assert login(email, password).status_code == 401
        assert len(calls) == 1, email


def test_a_deactivated_user_cannot_log_in(make_tenant):
    from identity.accounts.actions import deactivate_user
    from identity.accounts.queries import user_by_email

    make_tenant("lab-a", "anna@lab-a.test")
    deactivate_user(user_by_email("anna@lab-a.test"))
    response = login("anna@lab-a.test")
    assert response.status_code == 401 and response.json()["type"] == "urn:vo2:problem:invalid-credentials"


def test_login_input_is_validated():
    from rest_framework.test import APIClient

    response = APIClient().post("/api/v1/auth/login", {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"email", "password"}
