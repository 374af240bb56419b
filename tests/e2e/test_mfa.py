"""Two-factor sign-in through the gateway (issue 16 item 3): enrolment and login with codes computed here (pyotp),
the second step at the public /auth/login/mfa, recovery codes single-use, a tenant requiring it for a role."""
import time
import uuid

import pyotp

from .conftest import Api, join_by_invitation

PASSWORD = "mfa-member-pw-123"


def test_totp_enrolment_login_and_single_use_recovery_codes(owner, mailbox, gateway):
    email = f"mfa-{uuid.uuid4().hex[:6]}@first.lab"
    member, _ = join_by_invitation(owner, mailbox, email, "physiologist", PASSWORD)
    started = member.post("/api/v1/auth/mfa/totp")
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    confirmed = member.post("/api/v1/auth/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]

    anonymous = Api(gateway)
    asked = anonymous.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert asked.status_code == 401 and asked.json()["type"] == "urn:vo2:problem:mfa-required"
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step's: the confirmation used this one
    tokens = anonymous.http.post("/api/v1/auth/login/mfa", json={"challenge": asked.json()["challenge"], "code": code})
    assert tokens.status_code == 200, tokens.text
    assert Api(gateway, tokens.json()["access"]).get("/api/v1/athletes/").status_code == 200

    for attempt, expected in ((recovery[0], 200), (recovery[0], 401)):
        challenge = anonymous.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
        answer = anonymous.http.post("/api/v1/auth/login/mfa", json={"challenge": challenge["challenge"],
                                                                     "code": attempt})
        assert answer.status_code == expected, answer.text
    audit = owner.get("/api/v1/tenants/current/audit/", params={"category": "mfa"}).json()["results"]
    assert {"mfa.enabled", "mfa.challenged", "mfa.recovery_code_used", "mfa.failed"} <= {e["kind"] for e in audit}


def test_a_tenant_requiring_a_second_factor_for_owners_sends_them_to_enrol(second_lab, gateway):
    operator = Api(gateway)
    operator.login("operator@vo2.platform", "platform-operator-pw-1")  # made by the second_lab fixture
    slug = f"mfa-lab-{uuid.uuid4().hex[:6]}"
    email = f"owner@{slug}.test"
    created = operator.post("/api/v1/tenants/", {"name": "MFA Lab", "slug": slug,
                                                 "owner": {"email": email, "password": PASSWORD}})
    assert created.status_code == 201, created.text
    owner = Api(gateway)
    owner.login(email, PASSWORD)
    required = owner.patch("/api/v1/tenants/current/", {"settings": {"mfa_required_roles": ["owner", "admin"]}})
    assert required.status_code == 200, required.text

    anonymous = Api(gateway)
    told = anonymous.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert told.status_code == 403 and told.json()["type"] == "urn:vo2:problem:mfa-enrolment-required"
    challenge = told.json()["challenge"]
    started = anonymous.http.post("/api/v1/auth/login/mfa/enrol", json={"challenge": challenge})
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    done = anonymous.http.post("/api/v1/auth/login/mfa", json={"challenge": challenge,
                                                               "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.text
    assert len(done.json()["recovery_codes"]) == 10
    again = anonymous.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert again.status_code == 401 and again.json()["type"] == "urn:vo2:problem:mfa-required"
