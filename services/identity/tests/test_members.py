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


def test_owner_adds_a_new_user_who_can_then_log_in(lab):
    created = lab.owner.post(MEMBERS, {"email": "Pavel@Lab-A.test", "role": "physiologist", "full_name": "Pavel",
                                       "password": "initial-password-42"}, format="json")
    assert created.status_code == 201, created.content
    member = created.json()
    assert member["email"] == "pavel@lab-a.test" and member["role"] == "physiologist" and member["is_active"]
    assert "password" not in member
    assert login("pavel@lab-a.test", "initial-password-42").status_code == 200


def test_adding_an_existing_user_leaves_their_password_alone(lab, make_tenant):
    make_tenant("lab-b", "boris@lab-b.test")
    created = lab.admin.post(MEMBERS, {"email": "boris@lab-b.test", "role": "viewer", "password": "hijack-attempt-1"},
                             format="json")
    assert created.status_code == 201
    assert login("boris@lab-b.test", "hijack-attempt-1", tenant="lab-a").status_code == 401
    assert login("boris@lab-b.test", PASSWORD, tenant="lab-a").status_code == 200


def test_adding_needs_a_good_initial_password_and_no_duplicate(lab):
    missing = lab.owner.post(MEMBERS, {"email": "new@lab-a.test", "role": "viewer"}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "password"
    weak = lab.owner.post(MEMBERS, {"email": "new@lab-a.test", "role": "viewer", "password": "12345"}, format="json")
    assert weak.status_code == 400 and {e["field"] for e in weak.json()["errors"]} == {"password"}
    bad_role = lab.owner.post(MEMBERS, {"email": "new@lab-a.test", "role": "king", "password": PASSWORD}, format="json")
    assert bad_role.status_code == 400
    again = lab.owner.post(MEMBERS, {"email": "viewer@lab-a.test", "role": "viewer"}, format="json")
    assert again.status_code == 409


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
                     caller.post(MEMBERS, {"email": "x@lab-a.test", "role": "admin", "password": PASSWORD},
                                 format="json"),
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
    assert lab.admin.post(MEMBERS, {"email": "x@lab-a.test", "role": "owner", "password": PASSWORD},
                          format="json").status_code == 403
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
