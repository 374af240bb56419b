import jwt
import pytest
from rest_framework.test import APIClient

from .conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)

CURRENT = "/api/v1/tenants/current/"


def test_members_read_their_tenant_and_managers_change_it(make_tenant, add_member, session):
    tenant = make_tenant("lab-a", "owner@lab-a.test", plan="professional")
    add_member(tenant, "admin@lab-a.test", "admin")
    add_member(tenant, "viewer@lab-a.test", "viewer")
    viewer, admin = session("viewer@lab-a.test"), session("admin@lab-a.test")

    seen = viewer.get(CURRENT).json()
    assert seen["slug"] == "lab-a" and seen["plan"] == "professional" and seen["settings"] == {"language": "en"}
    assert viewer.patch(CURRENT, {"name": "Mine"}, format="json").status_code == 403

    changed = admin.patch(CURRENT, {"name": "Lab A", "settings": {"language": "ru"}, "plan": "enterprise"},
                          format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "Lab A" and changed.json()["settings"] == {"language": "ru"}
    assert changed.json()["plan"] == "professional"  # the operator's field, not the tenant's
    assert admin.patch(CURRENT, {"settings": {"language": "de"}}, format="json").status_code == 400
    unknown = admin.patch(CURRENT, {"settings": {"colour": "red"}}, format="json")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "settings.colour"


def test_me_names_user_tenant_roles_and_other_tenants(make_tenant, add_member, session):
    a = make_tenant("lab-a", "anna@lab-a.test")
    b = make_tenant("lab-b", "boris@lab-b.test")
    add_member(b, "anna@lab-a.test", "viewer")
    me = session("anna@lab-a.test", tenant="lab-a").get("/api/v1/auth/me").json()
    assert me["user"]["email"] == "anna@lab-a.test" and me["user"]["is_operator"] is False
    assert me["tenant"]["id"] == str(a.id) and me["roles"] == ["owner"]
    assert me["other_tenants"] == [{"id": str(b.id), "slug": "lab-b", "name": "Lab-B", "role": "viewer"}]


def test_operator_lists_and_creates_tenants_with_their_first_owner(make_tenant, session):
    make_tenant("lab-a", "owner@lab-a.test")
    from identity.accounts.actions import create_user, make_operator

    make_operator(create_user("ops@platform.test", PASSWORD))
    tokens = login("ops@platform.test").json()
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    assert claims["roles"] == ["operator"] and claims["tid"] is None
    operator = session("ops@platform.test")
    assert operator.get("/api/v1/auth/me").json()["tenant"] is None

    created = operator.post("/api/v1/tenants/", {
        "name": "Club B", "slug": "club-b", "plan": "starter", "on_trial": True, "paid_until": "2027-01-31",
        "settings": {"language": "ru"},
        "owner": {"email": "boris@club-b.test", "full_name": "Boris", "password": "first-password-77"}},
        format="json")
    assert created.status_code == 201, created.content
    assert created.json()["on_trial"] is True and created.json()["settings"] == {"language": "ru"}
    owner = login("boris@club-b.test", "first-password-77")
    assert owner.status_code == 200
    assert jwt.decode(owner.json()["access"], options={"verify_signature": False})["roles"] == ["owner"]

    slugs = [t["slug"] for t in operator.get("/api/v1/tenants/").json()["results"]]
    assert sorted(slugs) == ["club-b", "lab-a"]
    assert operator.get(f"/api/v1/tenants/{created.json()['id']}/").json()["slug"] == "club-b"
    taken = operator.post("/api/v1/tenants/", {"name": "Again", "slug": "club-b", "owner": {"email": "o@o.test",
                                                                                          "password": PASSWORD}},
                          format="json")
    assert taken.status_code == 400 and taken.json()["errors"][0]["field"] == "slug"


def test_only_the_operator_manages_tenants(make_tenant, session):
    make_tenant("lab-a", "owner@lab-a.test")
    owner = session("owner@lab-a.test")
    assert owner.get("/api/v1/tenants/").status_code == 403
    response = owner.post("/api/v1/tenants/", {"name": "Mine", "slug": "mine",
                                               "owner": {"email": "o@o.test", "password": PASSWORD}}, format="json")
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"


def test_the_operator_invites_an_existing_account_as_owner_instead_of_making_it_one(make_tenant, session):
    """Issue 12 (cross-tenant membership without consent): a new tenant whose owner e-mail has an account already
    gets a pending owner invitation; the person is no member until they accept, and their login is unchanged."""
    from identity.accounts.actions import create_user, make_operator

    from .test_members import _invitation_token

    lab_a = make_tenant("lab-a", "anna@lab-a.test")
    make_operator(create_user("ops@platform.test", PASSWORD))
    operator = session("ops@platform.test")
    created = operator.post("/api/v1/tenants/", {"name": "Club C", "slug": "club-c", "owner": {
        "email": "Anna@lab-a.test", "password": "not-used-password-1"}}, format="json")
    assert created.status_code == 201, created.content
    invitation = created.json()["owner_invitation"]
    assert invitation["email"] == "anna@lab-a.test" and invitation["role"] == "owner"
    assert invitation["status"] == "pending" and "token" not in invitation
    # no membership yet: Anna's plain login still acts for lab-a alone, her password is hers
    alone = login("anna@lab-a.test")
    assert alone.status_code == 200
    assert jwt.decode(alone.json()["access"], options={"verify_signature": False})["tid"] == str(lab_a.id)
    not_yet = login("anna@lab-a.test", tenant="club-c")  # not a member of club-c: no session there
    assert not_yet.status_code == 400 and "access" not in not_yet.json()
    assert login("anna@lab-a.test", "not-used-password-1").status_code == 401
    # she accepts with her own password: now the owner of club-c
    accepted = APIClient().post("/api/v1/auth/invitations/accept", {
        "token": _invitation_token(invitation["id"]), "password": PASSWORD}, format="json")
    assert accepted.status_code == 201, accepted.content
    claims = jwt.decode(accepted.json()["access"], options={"verify_signature": False})
    assert claims["roles"] == ["owner"] and claims["tid"] == created.json()["id"]
    assert login("anna@lab-a.test").json()["type"] == "urn:vo2:problem:tenant-required"  # now in both, by consent
    # a new e-mail still gets its account at once (no invitation)
    fresh = operator.post("/api/v1/tenants/", {"name": "Club D", "slug": "club-d", "owner": {
        "email": "dora@club-d.test", "password": "first-password-77"}}, format="json")
    assert fresh.status_code == 201 and fresh.json()["owner_invitation"] is None
    assert login("dora@club-d.test", "first-password-77").status_code == 200
