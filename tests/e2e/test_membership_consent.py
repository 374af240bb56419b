"""Issue 12, finding 1: one tenant's owner cannot pull another tenant's user in. Adding an e-mail is an invitation the
person accepts; the answer is the same whether or not the e-mail has an account anywhere, and names nobody; the owner
role is never held by someone who has not accepted."""
import re
import time
import uuid

import pytest

from .conftest import Api, new_lab

MEMBERS = "/api/v1/tenants/current/members/"


@pytest.fixture(scope="session")
def other_lab(system) -> Api:
    """An organisation of its own for these tests (the shared `second_lab` must stay untouched: other tests check
    that nothing of the first lab reaches it)."""
    return new_lab(system, "Other Lab", "other-lab", "operator-consent@vo2.platform", "platform-operator-pw-2")


def test_another_tenants_user_joins_only_by_accepting(owner, other_lab, gateway, mailbox):
    # a user of the first lab, with their own password
    email = f"coach-{uuid.uuid4().hex[:6]}@first.lab"
    invited = owner.post(MEMBERS, {"email": email, "role": "physiologist"})
    assert invited.status_code == 202, invited.text
    token = re.search(r"token=([A-Za-z0-9_\-]+)", mailbox.wait_for(email)[-1]["body"]).group(1)
    coach = Api(gateway)
    assert coach.http.post("/api/v1/auth/invitations/accept",
                           json={"token": token, "password": "coach-password-42", "full_name": "Ivan Coach"}
                           ).status_code == 201
    coach.login(email, "coach-password-42")  # one tenant: no tenant choice needed

    # the other lab's owner tries to add them, as a viewer and as an owner, and an e-mail nobody has
    as_viewer = other_lab.post(MEMBERS, {"email": email, "role": "viewer"})
    unknown = other_lab.post(MEMBERS, {"email": f"nobody-{uuid.uuid4().hex[:6]}@nowhere.test", "role": "viewer"})
    assert as_viewer.status_code == unknown.status_code == 202, (as_viewer.text, unknown.text)
    assert set(as_viewer.json()) == set(unknown.json())
    for answer in (as_viewer.json(), unknown.json()):
        assert answer["status"] == "pending" and answer["accepted_user_id"] is None
        assert "Ivan" not in str(answer) and "full_name" not in answer and "user_id" not in answer
    # a second pending invitation of the same e-mail (as owner) is allowed, and just as silent
    as_owner = other_lab.post(MEMBERS, {"email": email, "role": "owner"})
    assert as_owner.status_code == 202, as_owner.text

    # nothing changed for the coach: not a member of the other lab, not an owner, plain login still works
    emails = [m["email"] for m in other_lab.get(MEMBERS).json()["results"]]
    assert emails == ["owner@other.lab"]
    assert coach.login(email, "coach-password-42")["access"]
    me = coach.get("/api/v1/auth/me").json()
    assert me["tenant"]["slug"] == "first-lab" and me["other_tenants"] == []

    # the other lab withdraws the owner invitation; the coach accepts the viewer one with their own password:
    # only then a member, with the invited role
    assert other_lab.delete(f"/api/v1/tenants/current/invitations/{as_owner.json()['id']}/").status_code == 204
    deadline = time.monotonic() + 30
    while len(mailbox.wait_for(email)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    mails = mailbox.wait_for(email)
    assert len(mails) == 3  # the first lab's invitation and the other lab's two
    tokens = [re.search(r"token=([A-Za-z0-9_\-]+)", m["body"]).group(1) for m in mails[1:]]
    wrong = [Api(gateway).http.post("/api/v1/auth/invitations/accept",
                                    json={"token": t, "password": "not-the-coach-password"}) for t in tokens]
    assert sorted(w.status_code for w in wrong) == [401, 410]  # the e-mails may arrive in either order
    accepted = [Api(gateway).http.post("/api/v1/auth/invitations/accept",
                                       json={"token": t, "password": "coach-password-42"}) for t in tokens]
    assert sorted(a.status_code for a in accepted) == [201, 410]  # the withdrawn one no longer works
    (member,) = other_lab.get(MEMBERS, params={"email": email}).json()["results"]
    assert member["role"] == "viewer" and member["is_active"]
    assert coach.login(email, "coach-password-42", tenant="other-lab")


def test_only_an_owner_invites_an_owner(owner, gateway, mailbox):
    from .conftest import join_by_invitation

    suffix = uuid.uuid4().hex[:6]
    admin, _ = join_by_invitation(owner, mailbox, f"admin-{suffix}@first.lab", "admin", f"admin-pw-{suffix}-x")
    refused = admin.post(MEMBERS, {"email": f"boss-{suffix}@first.lab", "role": "owner"})
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    with_password = owner.post(MEMBERS, {"email": f"pw-{suffix}@first.lab", "role": "viewer",
                                         "password": "set-by-the-owner-1"})
    assert with_password.status_code == 400 and with_password.headers["content-type"] == "application/problem+json"


def test_the_operator_invites_an_existing_account_as_owner_of_a_new_lab(other_lab, gateway, mailbox):
    """A new lab whose owner e-mail has an account already: the person is invited as owner (an e-mail with the
    link), not made one; their login is unchanged until they accept, then they own the new lab."""
    operator = Api(gateway)
    operator.login("operator-consent@vo2.platform", "platform-operator-pw-2")  # made by the other_lab fixture
    email = "owner@other.lab"  # other_lab's owner
    slug = f"third-{uuid.uuid4().hex[:6]}"
    seen = mailbox.count(email)  # the other mode's run of this test invited the same address
    created = operator.post("/api/v1/tenants/", {"name": "Third Lab", "slug": slug,
                                                 "owner": {"email": email, "password": "operator-chosen-pw-1"}})
    assert created.status_code == 201, created.text
    assert created.json()["owner_invitation"]["status"] == "pending"
    assert created.json()["owner_invitation"]["role"] == "owner"
    person = Api(gateway)
    plain = person.http.post("/api/v1/auth/login", json={"email": email, "password": "other-lab-owner-pw-1"})
    assert plain.status_code == 200, plain.text  # still one lab: no tenant-required, no membership yet
    assert person.http.post("/api/v1/auth/login", json={"email": email, "password": "operator-chosen-pw-1"}
                            ).status_code == 401  # the operator's password was not set on the account
    token = re.search(r"token=([A-Za-z0-9_\-]+)", mailbox.wait_for(email, after=seen)[-1]["body"]).group(1)
    accepted = person.http.post("/api/v1/auth/invitations/accept",
                                json={"token": token, "password": "other-lab-owner-pw-1"})
    assert accepted.status_code == 201, accepted.text
    person.token = accepted.json()["access"]
    assert person.get("/api/v1/tenants/current/").json()["slug"] == slug
    assert person.get("/api/v1/auth/me").json()["roles"] == ["owner"]
