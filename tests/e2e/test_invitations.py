"""An owner invites a colleague; identity's event reaches notifications, which e-mails the invitation to a real SMTP
server; the colleague accepts with the token from the e-mail, logs in with the role; the inviter is told in-app."""
import re
import time
import uuid

from .conftest import Api


def wait_until(probe, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_invitation_is_emailed_accepted_and_the_inviter_is_told(owner, gateway, mailbox):
    email = f"coach-{uuid.uuid4().hex[:6]}@first.lab"
    invited = owner.post("/api/v1/tenants/current/invitations/", {"email": email, "role": "physiologist"})
    assert invited.status_code == 201, invited.text

    messages = mailbox.wait_for(email)
    assert len(messages) == 1, "the invitation is e-mailed exactly once"
    body = messages[0]["body"]
    assert "First Lab" in body
    token = re.search(r"token=([A-Za-z0-9_\-]+)", body).group(1)

    newcomer = Api(gateway)
    accepted = newcomer.http.post("/api/v1/auth/invitations/accept",
                                  json={"token": token, "password": "coach-password-42", "full_name": "Ivan Coach"})
    assert accepted.status_code in (200, 201), accepted.text
    newcomer.login(email, "coach-password-42")
    assert newcomer.get("/api/v1/auth/me").json()["roles"] == ["physiologist"]
    assert newcomer.post("/api/v1/athletes/", {"first_name": "Oleg", "last_name": "P", "sex": "male"}).status_code == 201

    reused = newcomer.http.post("/api/v1/auth/invitations/accept", json={"token": token, "password": "another-pw-99"})
    assert reused.status_code in (409, 410) and reused.headers["content-type"] == "application/problem+json"

    def inviter_told():
        items = owner.get("/api/v1/notifications/").json()["results"]
        return [n for n in items if email in (n.get("body", "") + n.get("title", "") + str(n.get("data", "")))]

    told = wait_until(inviter_told)
    assert len(told) == 1
    assert owner.post(f"/api/v1/notifications/{told[0]['id']}/read").status_code in (200, 204)
    unread = owner.get("/api/v1/notifications/", params={"unread": "true"}).json()["results"]
    assert told[0]["id"] not in {n["id"] for n in unread}


def test_a_tenants_event_never_reaches_another_tenant(owner, second_lab, mailbox):
    email = f"isolated-{uuid.uuid4().hex[:6]}@first.lab"
    assert owner.post("/api/v1/tenants/current/invitations/", {"email": email, "role": "viewer"}).status_code == 201
    mailbox.wait_for(email)
    # the second lab has events of its own from other tests (someone joined it): none of them is about this one
    assert [n for n in second_lab.get("/api/v1/notifications/").json()["results"] if email in str(n)] == []
    assert [i for i in second_lab.get("/api/v1/tenants/current/invitations/").json()["results"]
            if i["email"] == email] == []


def test_an_unknown_invitation_token_is_refused_clearly(anonymous):
    response = anonymous.http.post("/api/v1/auth/invitations/accept", json={"token": "x" * 43, "password": "pw-123456789"})
    assert response.status_code in (404, 410)
    assert response.headers["content-type"] == "application/problem+json"
