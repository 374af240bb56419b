"""Plans (issue 16 item 5): the operator changes a tenant's plan (audited); the plan travels in the access token;
identity enforces the quotas it counts (members, API keys: test_api_keys.py); a tenant past its trial or its
paid_until is read-only (402 plan-expired on writes, reads work, nothing deleted)."""
from datetime import date, timedelta

import jwt
import pytest

from .conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator(session):
    from identity.accounts.actions import create_user, make_operator

    make_operator(create_user("ops@platform.test", PASSWORD))
    return session("ops@platform.test")


def claims_of(email):
    return jwt.decode(login(email).json()["access"], options={"verify_signature": False})


def test_the_operator_changes_the_plan_and_the_next_token_carries_it(make_tenant, operator, session, add_member):
    from identity.audit.models import AuditEvent

    lab = make_tenant("lab-a", "anna@lab-a.test")
    assert claims_of("anna@lab-a.test")["plan"]["name"] == "starter"
    changed = operator.patch(f"/api/v1/tenants/{lab.id}/", {"plan": "lab", "quotas": {"members": 2}}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["plan"] == "lab" and changed.json()["limits"]["quotas"]["members"] == 2
    plan = claims_of("anna@lab-a.test")["plan"]
    assert plan == {"name": "lab", "read_only_from": None,
                    "quotas": {"members": 2, "api_keys": 25, "imports_per_month": 5000, "storage_mb": 100 * 1024}}
    event = AuditEvent.objects.get(kind="tenant.plan_changed")
    assert event.tenant_id == lab.id and event.data["after"]["plan"] == "lab" and event.data["before"]["plan"] == "starter"
    # owners cannot change their own plan, and nobody but the operator reaches the operator's route
    owner = session("anna@lab-a.test")
    assert owner.patch("/api/v1/tenants/current/", {"plan": "enterprise"}, format="json").json()["plan"] == "lab"
    assert owner.patch(f"/api/v1/tenants/{lab.id}/", {"plan": "enterprise"}, format="json").status_code == 403
    add_member(lab, "adam@lab-a.test", "admin")
    assert session("adam@lab-a.test").patch(f"/api/v1/tenants/{lab.id}/", {"plan": "enterprise"},
                                            format="json").status_code == 403
    bad = operator.patch(f"/api/v1/tenants/{lab.id}/", {"plan": "platinum", "quotas": {"members": -1}}, format="json")
    assert bad.status_code == 400 and {e["field"] for e in bad.json()["errors"]} == {"plan", "quotas.members"}


def test_the_member_quota_counts_members_and_open_invitations(make_tenant, operator, session):
    lab = make_tenant("lab-a", "anna@lab-a.test")
    operator.patch(f"/api/v1/tenants/{lab.id}/", {"quotas": {"members": 2}}, format="json")
    owner = session("anna@lab-a.test")
    first = owner.post("/api/v1/tenants/current/invitations/", {"email": "b@lab-a.test", "role": "viewer"},
                       format="json")
    assert first.status_code == 201, first.content
    refused = owner.post("/api/v1/tenants/current/members/", {"email": "c@lab-a.test", "role": "viewer"},
                         format="json")
    assert refused.status_code == 403 and refused.json()["type"] == "urn:vo2:problem:plan-limit"
    assert refused.json()["quota"] == "members" and refused.json()["limit"] == 2
    owner.delete(f"/api/v1/tenants/current/invitations/{first.json()['id']}/")  # a revoked invitation frees a seat
    assert owner.post("/api/v1/tenants/current/members/", {"email": "c@lab-a.test", "role": "viewer"},
                      format="json").status_code == 202


@pytest.mark.parametrize("fields", [{"on_trial": True, "trial_ends": str(date.today() - timedelta(days=1))},
                                    {"paid_until": str(date.today() - timedelta(days=1))}])
def test_a_tenant_past_its_trial_or_paid_until_is_read_only_and_keeps_everything(make_tenant, operator, session,
                                                                                  fields):
    lab = make_tenant("lab-a", "anna@lab-a.test")
    owner = session("anna@lab-a.test")
    key = owner.post("/api/v1/tenants/current/api-keys/", {"name": "k", "role": "viewer"}, format="json").json()
    assert operator.patch(f"/api/v1/tenants/{lab.id}/", fields, format="json").status_code == 200
    expired = session("anna@lab-a.test")  # a new login: the token says read-only
    assert expired.get("/api/v1/tenants/current/").json()["limits"]["read_only"] is True
    assert [k["id"] for k in expired.get("/api/v1/tenants/current/api-keys/").json()["results"]] == [key["id"]]
    for answer in (expired.patch("/api/v1/tenants/current/", {"name": "New"}, format="json"),
                   expired.post("/api/v1/tenants/current/api-keys/", {"name": "k2", "role": "viewer"}, format="json"),
                   expired.post("/api/v1/tenants/current/members/", {"email": "x@lab-a.test", "role": "viewer"},
                                format="json")):
        assert answer.status_code == 402, answer.content
        assert answer.json()["type"] == "urn:vo2:problem:plan-expired"
    # identity itself also refuses from its own records (an older token's claim is not the last word here)
    assert owner.post("/api/v1/tenants/current/api-keys/", {"name": "k3", "role": "viewer"},
                      format="json").status_code == 402
    assert expired.get("/api/v1/tenants/current/members/").status_code == 200
    renewed = operator.patch(f"/api/v1/tenants/{lab.id}/", {"on_trial": False, "paid_until": None}, format="json")
    assert renewed.json()["limits"]["read_only"] is False
    assert session("anna@lab-a.test").patch("/api/v1/tenants/current/", {"name": "New"},
                                            format="json").status_code == 200


def test_a_paid_until_today_is_still_writable(make_tenant, operator):
    from identity.tenants import plans
    from identity.tenants.models import Tenant

    lab = make_tenant("lab-a", "anna@lab-a.test")
    operator.patch(f"/api/v1/tenants/{lab.id}/", {"paid_until": str(date.today())}, format="json")
    assert plans.is_read_only(Tenant.objects.get(id=lab.id)) is False
    assert claims_of("anna@lab-a.test")["plan"]["read_only_from"] is not None
