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
