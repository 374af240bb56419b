import pytest

from .conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = "/api/v1/tenants/current/members/"


@pytest.fixture
def lab(make_tenant, add_member, session):
    """lab-a with an owner, an admin and a viewer, and logged-in clients for each."""
    tenant = make_tenant("lab-a", "owner@lab-a.test")
    add_member(tenant, "admin@lab-a.test", "admin")
    add_member(tenant, "viewer@lab-a.test", "viewer")

    class Lab:
        id = tenant.id
        owner = session("owner@lab-a.test")
        admin = session("admin@lab-a.test")
    return Lab


def member_id(client, email):
    results = client.get(MEMBERS + f"?email={email}").json()["results"]
    assert len(results) == 1
    return results[0]["id"]


def _invitation_token(invitation_id):
    """The raw token, as notifications gets it: from the invitation event in the outbox."""
    import json

    from servicekit.events.models import OutboxEvent

    bodies = OutboxEvent.objects.filter(type="identity.invitation.created").values_list("body", flat=True)
    (data,) = [json.loads(b)["data"] for b in bodies if json.loads(b)["subject"] == invitation_id]
    return data["accept_token"]


def _accept(invitation_id, password=PASSWORD, **extra):
    from rest_framework.test import APIClient

    return APIClient().post("/api/v1/auth/invitations/accept",
                            {"token": _invitation_token(invitation_id), "password": password, **extra}, format="json")


def test_adding_by_email_answers_the_same_whether_or_not_the_email_has_an_account(lab, make_tenant):
    """Finding 1 of issue 12: another tenant's user was added without consent, and the answer named them (or told
    that an e-mail has no account). Now both are one 202 with a pending invitation and nothing about the person."""
    make_tenant("lab-b", "boris@lab-b.test")
    known = lab.admin.post(MEMBERS, {"email": "boris@lab-b.test", "role": "viewer"}, format="json")
    unknown = lab.admin.post(MEMBERS, {"email": "nobody@nowhere.test", "role": "viewer"}, format="json")
    assert known.status_code == unknown.status_code == 202, (known.content, unknown.content)
    assert known["Location"] == f"/api/v1/tenants/current/invitations/{known.json()['id']}/"
    for answer in (known.json(), unknown.json()):
        assert answer["status"] == "pending" and answer["accepted_user_id"] is None
        assert "full_name" not in answer and "user_id" not in answer
    assert set(known.json()) == set(unknown.json())
    # nobody joined: lab-a's members are unchanged, boris still logs in without choosing a tenant
    assert sorted(m["email"] for m in lab.admin.get(MEMBERS).json()["results"]) == [
        "admin@lab-a.test", "owner@lab-a.test", "viewer@lab-a.test"]
    assert login("boris@lab-b.test").status_code == 200


def test_an_existing_user_joins_only_by_accepting_with_their_own_password(lab, make_tenant):
    make_tenant("lab-b", "boris@lab-b.test")
    invited = lab.owner.post(MEMBERS, {"email": "boris@lab-b.test", "role": "physiologist"}, format="json")
    assert invited.status_code == 202
    assert _accept(invited.json()["id"], password="hijack-attempt-1").status_code == 401
    assert _accept(invited.json()["id"]).status_code == 201
    (member,) = lab.owner.get(MEMBERS + "?email=boris@lab-b.test").json()["results"]
    assert member["role"] == "physiologist" and member["is_active"]
    assert login("boris@lab-b.test", PASSWORD, tenant="lab-a").status_code == 200


def test_a_new_user_joins_by_accepting_and_chooses_their_password(lab):
    invited = lab.owner.post(MEMBERS, {"email": "Pavel@Lab-A.test", "role": "physiologist"}, format="json")
    assert invited.status_code == 202 and invited.json()["email"] == "pavel@lab-a.test"
    assert login("pavel@lab-a.test", "initial-password-42").status_code == 401
    assert _accept(invited.json()["id"], password="initial-password-42", full_name="Pavel").status_code == 201
    assert login("pavel@lab-a.test", "initial-password-42").status_code == 200


def test_a_manager_sets_no_password_and_no_duplicate(lab):
    with_password = lab.owner.post(MEMBERS, {"email": "new@lab-a.test", "role": "viewer", "password": PASSWORD},
                                   format="json")
    assert with_password.status_code == 400 and with_password.json()["errors"][0]["field"] == "password"
    bad_role = lab.owner.post(MEMBERS, {"email": "new@lab-a.test", "role": "king"}, format="json")
    assert bad_role.status_code == 400
    again = lab.owner.post(MEMBERS, {"email": "viewer@lab-a.test", "role": "viewer"}, format="json")
    assert again.status_code == 409
    assert lab.owner.get("/api/v1/tenants/current/invitations/").json()["results"] == []


def test_the_owner_role_goes_only_from_an_owner_to_someone_who_accepted(lab, make_tenant):
    make_tenant("lab-b", "boris@lab-b.test")
    by_admin = lab.admin.post(MEMBERS, {"email": "boris@lab-b.test", "role": "owner"}, format="json")
    assert by_admin.status_code == 403
    by_owner = lab.owner.post(MEMBERS, {"email": "boris@lab-b.test", "role": "owner"}, format="json")
    assert by_owner.status_code == 202
    owners = [m["email"] for m in lab.owner.get(MEMBERS + "?role=owner").json()["results"]]
    assert owners == ["owner@lab-a.test"]  # not an owner before accepting
    assert _accept(by_owner.json()["id"]).status_code == 201
    owners = sorted(m["email"] for m in lab.owner.get(MEMBERS + "?role=owner").json()["results"])
    assert owners == ["boris@lab-b.test", "owner@lab-a.test"]


def test_members_list_in_cursor_pages(lab):
    page = lab.admin.get(MEMBERS + "?page_size=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"]
    emails = [m["email"] for m in page["results"]]
    emails += [m["email"] for m in lab.admin.get(page["next"]).json()["results"]]
    assert sorted(emails) == ["admin@lab-a.test", "owner@lab-a.test", "viewer@lab-a.test"]


def test_change_role_and_deactivate(lab, session):
    viewer = session("viewer@lab-a.test")
    vid = member_id(lab.owner, "viewer@lab-a.test")
    changed = lab.admin.patch(f"{MEMBERS}{vid}/", {"role": "physiologist"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "physiologist"
    # the old token named the old role: identity refuses it; a refresh carries the new role
    assert viewer.get("/api/v1/auth/me").status_code == 401
    from rest_framework.test import APIClient

    renewed = APIClient().post("/api/v1/auth/refresh", {"refresh": viewer.tokens["refresh"]}, format="json").json()
    import jwt

    assert jwt.decode(renewed["access"], options={"verify_signature": False})["roles"] == ["physiologist"]

    assert lab.admin.delete(f"{MEMBERS}{vid}/").status_code == 204
    assert lab.admin.get(f"{MEMBERS}{vid}/").json()["is_active"] is False
    refused = APIClient().post("/api/v1/auth/refresh", {"refresh": renewed["refresh"]}, format="json")
    assert refused.status_code == 401
    assert login("viewer@lab-a.test").status_code == 403  # the password is right; no active membership is left

    back = lab.admin.patch(f"{MEMBERS}{vid}/", {"is_active": True}, format="json")
    assert back.status_code == 200 and login("viewer@lab-a.test").status_code == 200


@pytest.mark.parametrize("role", ["viewer", "physiologist", "athlete"])
def test_other_roles_may_not_manage_members(lab, add_member, session, role):
    from identity.tenants.models import Tenant

    add_member(Tenant.objects.get(slug="lab-a"), f"{role}2@lab-a.test", role)
    caller = session(f"{role}2@lab-a.test")
    some_id = member_id(lab.owner, "admin@lab-a.test")
    for response in (caller.get(MEMBERS), caller.get(f"{MEMBERS}{some_id}/"),
                     caller.post(MEMBERS, {"email": "x@lab-a.test", "role": "admin"}, format="json"),
                     caller.patch(f"{MEMBERS}{some_id}/", {"role": "viewer"}, format="json"),
                     caller.delete(f"{MEMBERS}{some_id}/")):
        assert response.status_code == 403, response.content
        assert response["Content-Type"] == "application/problem+json"
    assert lab.owner.get(f"{MEMBERS}{some_id}/").json()["role"] == "admin"


def test_another_tenants_member_is_404(lab, make_tenant, session):
    make_tenant("lab-b", "boris@lab-b.test")
    boris = session("boris@lab-b.test")
    theirs = member_id(lab.owner, "viewer@lab-a.test")
    url = f"{MEMBERS}{theirs}/"
    assert boris.get(url).status_code == 404
    assert boris.patch(url, {"role": "owner"}, format="json").status_code == 404
    assert boris.delete(url).status_code == 404
    assert [m["email"] for m in boris.get(MEMBERS).json()["results"]] == ["boris@lab-b.test"]
    assert lab.owner.get(url).json()["is_active"] is True and lab.owner.get(url).json()["role"] == "viewer"


def test_only_an_owner_grants_or_changes_the_owner_role(lab):
    aid = member_id(lab.owner, "admin@lab-a.test")
    oid = member_id(lab.owner, "owner@lab-a.test")
    assert lab.admin.patch(f"{MEMBERS}{aid}/", {"role": "owner"}, format="json").status_code == 403
    assert lab.admin.patch(f"{MEMBERS}{oid}/", {"role": "viewer"}, format="json").status_code == 403
    assert lab.admin.delete(f"{MEMBERS}{oid}/").status_code == 403
    assert lab.admin.post(MEMBERS, {"email": "x@lab-a.test", "role": "owner"}, format="json").status_code == 403
    assert lab.owner.patch(f"{MEMBERS}{aid}/", {"role": "owner"}, format="json").json()["role"] == "owner"


def test_the_last_active_owner_is_protected(lab):
    oid = member_id(lab.owner, "owner@lab-a.test")
    demoted = lab.owner.patch(f"{MEMBERS}{oid}/", {"role": "admin"}, format="json")
    assert demoted.status_code == 409 and demoted.json()["type"] == "urn:vo2:problem:last-owner"
    assert lab.owner.delete(f"{MEMBERS}{oid}/").status_code == 409
    assert lab.owner.patch(f"{MEMBERS}{oid}/", {"is_active": False}, format="json").status_code == 409
    assert lab.owner.get(f"{MEMBERS}{oid}/").json()["role"] == "owner"

    aid = member_id(lab.owner, "admin@lab-a.test")
    assert lab.owner.patch(f"{MEMBERS}{aid}/", {"role": "owner"}, format="json").status_code == 200
    assert lab.owner.patch(f"{MEMBERS}{oid}/", {"role": "admin"}, format="json").status_code == 200


def test_member_changes_are_audited_for_the_tenant_only(lab, make_tenant, session):
    vid = member_id(lab.owner, "viewer@lab-a.test")
    lab.owner.delete(f"{MEMBERS}{vid}/")
    kinds = [e["kind"] for e in lab.owner.get("/api/v1/tenants/current/audit/").json()["results"]]
    assert "member.deactivated" in kinds and "member.added" in kinds and "login.succeeded" in kinds
    make_tenant("lab-b", "boris@lab-b.test")
    boris_events = session("boris@lab-b.test").get("/api/v1/tenants/current/audit/").json()["results"]
    assert "member.deactivated" not in [e["kind"] for e in boris_events]
