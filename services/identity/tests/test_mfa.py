"""Two-factor sign-in (TOTP, RFC 6238): enrolment and confirmation with codes computed here by pyotp, the login's
second step with a challenge, recovery codes single-use, lockout as for passwords, disabling with a fresh code,
and a tenant that requires it for some roles."""
import time

import pyotp
import pytest
from rest_framework.test import APIClient

from .conftest import PASSWORD, client_for, login

pytestmark = pytest.mark.django_db(transaction=True)
TOTP = "/api/v1/auth/mfa/totp"


def second_step(challenge, code):
    return APIClient().post("/api/v1/auth/login/mfa", {"challenge": challenge, "code": code}, format="json")


def code_at(secret, offset_steps=0):
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def enrol(client):
    started = client.post(TOTP)
    assert started.status_code == 201, started.content
    secret = started.json()["secret"]
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/") and "secret=" + secret in started.json()["otpauth_uri"]
    confirmed = client.post(TOTP + "/confirm", {"code": code_at(secret)}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    return secret, confirmed.json()["recovery_codes"]


def test_enrolment_then_login_asks_for_the_code_and_a_code_works_once(make_tenant, session):
    from identity.audit.models import AuditEvent
    from identity.mfa.models import RecoveryCode

    lab = make_tenant("lab-a", "anna@lab-a.test")
    anna = session("anna@lab-a.test")
    assert anna.get(TOTP).json()["enabled"] is False
    wrong_first = anna.post(TOTP).json()["secret"]
    assert anna.post(TOTP + "/confirm", {"code": "000000"}, format="json").status_code == 401
    secret, codes = enrol(anna)
    assert secret != wrong_first and len(codes) == 10 and len(set(codes)) == 10
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists()  # stored hashed
    assert anna.get(TOTP).json() == {"enabled": True, "confirmed_at": anna.get(TOTP).json()["confirmed_at"],
                                     "recovery_codes_left": 10, "required": False}
    assert anna.post(TOTP).status_code == 409  # on already

    asked = login("anna@lab-a.test")
    assert asked.status_code == 401 and asked.json()["type"] == "urn:vo2:problem:mfa-required"
    challenge = asked.json()["challenge"]
    assert "access" not in asked.json()
    assert second_step(challenge, "123").status_code == 401
    used_code = code_at(secret, 1)  # the next step's code: clocks drift, one step either side counts
    tokens = second_step(challenge, used_code)
    assert tokens.status_code == 200, tokens.content
    assert set(tokens.json()) >= {"access", "refresh", "token_type", "expires_in"}
    assert client_for(tokens.json()["access"]).get("/api/v1/auth/me").status_code == 200
    assert second_step(challenge, code_at(secret)).json()["type"] == "urn:vo2:problem:invalid-mfa-challenge"

    again = login("anna@lab-a.test").json()["challenge"]
    replay = second_step(again, used_code)  # a code works once
    assert replay.status_code == 401 and replay.json()["type"] == "urn:vo2:problem:invalid-mfa-code"
    anna_id = anna.get("/api/v1/auth/me").json()["user"]["id"]
    kinds = set(AuditEvent.objects.filter(subject_user_id=anna_id).values_list("kind", flat=True))
    assert {"mfa.enrolment_started", "mfa.enabled", "mfa.challenged", "mfa.failed", "login.succeeded"} <= kinds
    assert AuditEvent.objects.filter(kind="mfa.enabled", tenant_id=lab.id).exists()


def test_recovery_codes_are_single_use(make_tenant, session):
    make_tenant("lab-a", "anna@lab-a.test")
    anna = session("anna@lab-a.test")
    _, codes = enrol(anna)
    first = second_step(login("anna@lab-a.test").json()["challenge"], codes[0].upper())
    assert first.status_code == 200, first.content
    reused = second_step(login("anna@lab-a.test").json()["challenge"], codes[0])
    assert reused.status_code == 401
    assert second_step(login("anna@lab-a.test").json()["challenge"], codes[1]).status_code == 200
    assert client_for(first.json()["access"]).get(TOTP).json()["recovery_codes_left"] == 8


def test_wrong_codes_lock_as_wrong_passwords_do_and_the_lock_lifts(make_tenant, session, settings, clock):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_S = 600
    make_tenant("lab-a", "anna@lab-a.test")
    anna = session("anna@lab-a.test")
    secret, _ = enrol(anna)
    challenge = login("anna@lab-a.test").json()["challenge"]
    wrong = [second_step(challenge, "000000") for _ in range(3)]
    assert {w.status_code for w in wrong} == {401}
    from identity.audit.models import AuditEvent

    assert AuditEvent.objects.filter(kind="mfa.locked").count() == 1
    locked = second_step(login("anna@lab-a.test").json()["challenge"], code_at(secret))  # right code, locked
    assert locked.status_code == 401 and locked.json() == wrong[0].json()
    clock.advance(seconds=601)
    fresh = login("anna@lab-a.test").json()["challenge"]
    assert second_step(fresh, pyotp.TOTP(secret).at(time.time() + 601 + 30)).status_code == 200
    # a challenge admits LOGIN_MAX_FAILURES attempts, then is dead
    dead = login("anna@lab-a.test").json()["challenge"]
    for _ in range(3):
        second_step(dead, "000000")
    clock.advance(seconds=601)
    assert second_step(dead, pyotp.TOTP(secret).at(time.time() + 1202 + 30)).json()["type"] == \
        "urn:vo2:problem:invalid-mfa-challenge"


def test_an_expired_challenge_is_refused(make_tenant, session, clock):
    make_tenant("lab-a", "anna@lab-a.test")
    secret, _ = enrol(session("anna@lab-a.test"))
    challenge = login("anna@lab-a.test").json()["challenge"]
    clock.advance(seconds=301)
    assert second_step(challenge, pyotp.TOTP(secret).at(time.time() + 301)).json()["type"] == \
        "urn:vo2:problem:invalid-mfa-challenge"


def test_disabling_needs_a_fresh_code(make_tenant, session):
    make_tenant("lab-a", "anna@lab-a.test")
    anna = session("anna@lab-a.test")
    secret, codes = enrol(anna)
    assert anna.post(TOTP + "/disable", {"code": "000000"}, format="json").status_code == 401
    assert anna.post(TOTP + "/disable", {"code": codes[0]}, format="json").status_code == 401  # not a recovery code
    assert anna.post(TOTP + "/disable", {"code": code_at(secret, 1)}, format="json").status_code == 204
    assert login("anna@lab-a.test").status_code == 200
    assert anna.post(TOTP + "/disable", {"code": code_at(secret)}, format="json").status_code == 409


def test_a_tenant_requiring_it_for_owners_and_admins_sends_them_to_enrol(make_tenant, add_member, session):
    lab = make_tenant("lab-a", "anna@lab-a.test")
    add_member(lab, "adam@lab-a.test", "admin")
    add_member(lab, "vera@lab-a.test", "viewer")
    owner = session("anna@lab-a.test")
    changed = owner.patch("/api/v1/tenants/current/", {"settings": {"mfa_required_roles": ["owner", "admin"]}},
                          format="json")
    assert changed.status_code == 200, changed.content
    assert session("vera@lab-a.test").get("/api/v1/auth/me").status_code == 200  # viewers are not asked

    told = login("adam@lab-a.test")
    assert told.status_code == 403 and told.json()["type"] == "urn:vo2:problem:mfa-enrolment-required"
    challenge = told.json()["challenge"]
    started = APIClient().post("/api/v1/auth/login/mfa/enrol", {"challenge": challenge}, format="json")
    assert started.status_code == 201, started.content
    secret = started.json()["secret"]
    done = second_step(challenge, code_at(secret))
    assert done.status_code == 200, done.content
    assert len(done.json()["recovery_codes"]) == 10 and "access" in done.json()
    adam = client_for(done.json()["access"])
    assert adam.get(TOTP).json()["required"] is True
    assert adam.post(TOTP + "/disable", {"code": code_at(secret, 1)}, format="json").status_code == 403
    assert login("adam@lab-a.test").json()["type"] == "urn:vo2:problem:mfa-required"  # from now on: the code
    bad = owner.patch("/api/v1/tenants/current/", {"settings": {"mfa_required_roles": ["chief"]}}, format="json")
    assert bad.status_code == 400


def test_a_verify_challenge_cannot_enrol_and_an_api_key_has_no_second_factor(make_tenant, session, settings):
    make_tenant("lab-a", "anna@lab-a.test")
    anna = session("anna@lab-a.test")
    enrol(anna)
    challenge = login("anna@lab-a.test").json()["challenge"]
    assert APIClient().post("/api/v1/auth/login/mfa/enrol", {"challenge": challenge},
                            format="json").status_code == 401
    settings.SERVICE_CLIENTS = {**settings.SERVICE_CLIENTS, "gateway": "gw-secret-1"}
    secret = anna.post("/api/v1/tenants/current/api-keys/", {"name": "k", "role": "admin"}, format="json").json()["secret"]
    exchanged = APIClient().post("/api/v1/auth/api-keys/exchange", {"client_id": "gateway", "client_secret": "gw-secret-1",
                                                                    "api_key": secret}, format="json")
    as_key = client_for(exchanged.json()["access"])
    assert as_key.post(TOTP).status_code == 403 and as_key.get(TOTP).status_code == 403


def test_accepting_an_invitation_opens_the_session_like_a_login(make_tenant, session):
    """An existing account with a second factor must give its code (the invitation's password check alone is not
    enough); a newcomer in a role the tenant requires it for is sent to enrol. The membership is kept either way."""
    from .test_invitations import accept, invite, token_of

    make_tenant("lab-a", "anna@lab-a.test")
    make_tenant("lab-b", "boris@lab-b.test")
    anna = session("anna@lab-a.test")
    secret, _ = enrol(anna)
    boris = session("boris@lab-b.test")
    invited = invite(boris, "anna@lab-a.test", "viewer")
    answer = accept(token_of(invited.json()["id"]), password=PASSWORD)
    assert answer.status_code == 401 and answer.json()["type"] == "urn:vo2:problem:mfa-required", answer.content
    tokens = second_step(answer.json()["challenge"], code_at(secret, 1))
    assert tokens.status_code == 200
    assert client_for(tokens.json()["access"]).get("/api/v1/auth/me").json()["tenant"]["slug"] == "lab-b"

    boris.patch("/api/v1/tenants/current/", {"settings": {"mfa_required_roles": ["admin"]}}, format="json")
    newcomer = accept(token_of(invite(boris, "new@lab-b.test", "admin").json()["id"]))
    assert newcomer.status_code == 403 and newcomer.json()["type"] == "urn:vo2:problem:mfa-enrolment-required"
    assert [m["email"] for m in boris.get("/api/v1/tenants/current/members/", {"email": "new@"}).json()["results"]] \
        == ["new@lab-b.test"]
