"""Password lifecycle: change (other sessions end, this one goes on), reset by e-mail (202 for any address, the
token only in the event, single use, 30 minutes), the policy (Django's validators), the bootstrap password that
must be changed at the first login; and the /users/me profile."""
import json

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from servicekit.events.models import OutboxEvent

from .conftest import PASSWORD, client_for, login

pytestmark = pytest.mark.django_db(transaction=True)

RESET_REQUESTED = "identity.password.reset_requested"
NEW_PASSWORD = "a-brand-new-passphrase-7"


def reset_events():
    return [json.loads(body)["data"] for body in
            OutboxEvent.objects.filter(type=RESET_REQUESTED).order_by("id").values_list("body", flat=True)]


@pytest.fixture
def lab(make_tenant):
    return make_tenant("lab-a", "anna@lab-a.test", settings={"language": "ru"})


def test_change_password_ends_the_other_sessions_and_keeps_this_one(lab, session):
    other = login("anna@lab-a.test").json()
    me = session("anna@lab-a.test")
    answer = me.post("/api/v1/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                     format="json")
    assert answer.status_code == 204, answer.content
    refresh = APIClient().post("/api/v1/auth/refresh", {"refresh": other["refresh"]}, format="json")
    assert refresh.status_code == 401  # the other session ended
    assert APIClient().post("/api/v1/auth/refresh", {"refresh": me.tokens["refresh"]},
                            format="json").status_code == 200
    assert login("anna@lab-a.test").status_code == 401
    assert login("anna@lab-a.test", NEW_PASSWORD).status_code == 200


def test_change_password_checks_the_current_one_and_the_policy(lab, session):
    me = session("anna@lab-a.test")
    wrong = me.post("/api/v1/auth/password", {"current_password": "not-it-at-all-1", "new_password": NEW_PASSWORD},
                    format="json")
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "current_password"
    for weak in ("short-1", "password1234", "12345678901234"):
        refused = me.post("/api/v1/auth/password", {"current_password": PASSWORD, "new_password": weak},
                          format="json")
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "new_password", weak
    assert login("anna@lab-a.test").status_code == 200  # unchanged
    assert APIClient().post("/api/v1/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                            format="json").status_code == 401


def test_reset_answers_202_for_any_address_and_mails_only_real_accounts(lab):
    anonymous = APIClient()
    for email in ("anna@lab-a.test", "nobody@lab-a.test"):
        answer = anonymous.post("/api/v1/auth/password/reset", {"email": email}, format="json")
        assert answer.status_code == 202 and not answer.content
    (event,) = reset_events()
    assert event["email"] == "anna@lab-a.test" and event["language"] == "ru" and event["tenant_id"] == str(lab.id)
    assert event["reset_url"].endswith("/reset-password?token=" + event["reset_token"])
    from identity.accounts.models import PasswordReset

    assert PasswordReset.objects.get().token_hash != event["reset_token"]  # only its hash is stored


def test_reset_confirm_is_single_use_and_ends_every_session(lab, session):
    before = session("anna@lab-a.test")
    APIClient().post("/api/v1/auth/password/reset", {"email": "anna@lab-a.test"}, format="json")
    token = reset_events()[-1]["reset_token"]
    weak = APIClient().post("/api/v1/auth/password/reset/confirm", {"token": token, "new_password": "123"},
                            format="json")
    assert weak.status_code == 400 and weak.json()["type"] == "urn:vo2:problem:validation-error"
    done = APIClient().post("/api/v1/auth/password/reset/confirm", {"token": token, "new_password": NEW_PASSWORD},
                            format="json")
    assert done.status_code == 204, done.content
    again = APIClient().post("/api/v1/auth/password/reset/confirm", {"token": token, "new_password": NEW_PASSWORD},
                             format="json")
    assert again.status_code == 400 and again.json()["type"] == "urn:vo2:problem:reset-token-invalid"
    assert APIClient().post("/api/v1/auth/refresh", {"refresh": before.tokens["refresh"]},
                            format="json").status_code == 401
    assert login("anna@lab-a.test", NEW_PASSWORD).status_code == 200


def test_a_reset_token_expires_after_30_minutes(lab, clock):
    APIClient().post("/api/v1/auth/password/reset", {"email": "anna@lab-a.test"}, format="json")
    token = reset_events()[-1]["reset_token"]
    clock.advance(minutes=settings.PASSWORD_RESET_TTL_MINUTES, seconds=1)
    late = APIClient().post("/api/v1/auth/password/reset/confirm", {"token": token, "new_password": NEW_PASSWORD},
                            format="json")
    assert late.status_code == 400 and late.json()["type"] == "urn:vo2:problem:reset-token-invalid"
    assert login("anna@lab-a.test").status_code == 200


def test_the_bootstrap_password_must_be_changed_at_the_first_login():
    from identity.tokens.actions import bootstrap

    _, generated = bootstrap(name="My Lab", slug="my-lab", email="owner@lab.local", password=None)
    first = login("owner@lab.local", generated)
    assert first.status_code == 200
    body = first.json()
    assert body["must_change_password"] is True
    claims = jwt.decode(body["access"], options={"verify_signature": False})
    assert claims["aud"] == settings.PASSWORD_CHANGE_AUDIENCE
    restricted = client_for(body["access"])
    assert restricted.get("/api/v1/auth/me").status_code == 401  # every other route refuses the session
    assert restricted.get("/api/v1/tenants/current/").status_code == 401
    refreshed = APIClient().post("/api/v1/auth/refresh", {"refresh": body["refresh"]}, format="json").json()
    assert refreshed["must_change_password"] is True  # refreshing does not escape it
    changed = restricted.post("/api/v1/auth/password", {"current_password": generated, "new_password": NEW_PASSWORD},
                              format="json")
    assert changed.status_code == 204, changed.content
    full = APIClient().post("/api/v1/auth/refresh", {"refresh": refreshed["refresh"]}, format="json").json()
    assert "must_change_password" not in full
    assert client_for(full["access"]).get("/api/v1/auth/me").status_code == 200


def test_a_chosen_bootstrap_password_is_not_forced(lab):
    assert set(login("anna@lab-a.test").json()) == {"access", "refresh", "token_type", "expires_in"}


def test_profile_is_read_and_edited(lab, session):
    me = session("anna@lab-a.test")
    shown = me.get("/api/v1/users/me").json()
    assert shown["email"] == "anna@lab-a.test" and shown["time_zone"] == "UTC" and shown["language"] == ""
    changed = me.patch("/api/v1/users/me", {"full_name": "Anna Ivanova", "language": "en",
                                            "time_zone": "Europe/Moscow"}, format="json")
    assert changed.status_code == 200, changed.content
    assert me.get("/api/v1/users/me").json()["time_zone"] == "Europe/Moscow"
    assert me.get("/api/v1/auth/me").json()["user"]["full_name"] == "Anna Ivanova"
    refreshed = APIClient().post("/api/v1/auth/refresh", {"refresh": me.tokens["refresh"]}, format="json").json()
    assert jwt.decode(refreshed["access"], options={"verify_signature": False})["locale"] == "en"
    bad = me.patch("/api/v1/users/me", {"time_zone": "Mars/Olympus", "language": "de"}, format="json")
    assert bad.status_code == 400 and {e["field"] for e in bad.json()["errors"]} == {"time_zone", "language"}
    assert me.patch("/api/v1/users/me", {"email": "x@y.test"}, format="json").json()["email"] == "anna@lab-a.test"
    assert APIClient().get("/api/v1/users/me").status_code == 401


def test_a_users_language_heads_their_reset_email(lab, session):
    session("anna@lab-a.test").patch("/api/v1/users/me", {"language": "en"}, format="json")
    APIClient().post("/api/v1/auth/password/reset", {"email": "anna@lab-a.test"}, format="json")
    assert reset_events()[-1]["language"] == "en"


@pytest.mark.parametrize("role", ["admin", "physiologist", "athlete", "viewer"])
def test_every_role_has_its_own_profile_and_password(lab, add_member, session, role):
    add_member(lab, f"{role}@lab-a.test", role)
    member = session(f"{role}@lab-a.test")
    assert member.get("/api/v1/users/me").json()["email"] == f"{role}@lab-a.test"
    assert member.patch("/api/v1/users/me", {"full_name": role}, format="json").status_code == 200
    assert member.post("/api/v1/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                       format="json").status_code == 204
    assert session("anna@lab-a.test").get("/api/v1/users/me").json()["full_name"] != role  # not the owner's
