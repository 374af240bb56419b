"""Issue 18: the operator deletes a tenant: identity erases its own part at once (memberships, invitations, audit,
the users left without a tenant), `identity.tenant.deleted` goes out, and the deletion shows each service's
confirmation; unconfirmed ones are sent again."""
import json

import pytest

from servicekit.events.consumer import EventConsumer
from servicekit.events.envelope import make, parse
from servicekit.events.models import OutboxEvent
from servicekit.events.registry import load

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def confirmed(service, tenant_id, removed=None):
    return parse(make(f"{service}.deletion.confirmed", {"scope": "tenant", "subject_id": tenant_id,
                                                        "removed": removed or {}},
                      source=f"/vo2max/{service}", tenant_id=tenant_id))


@pytest.fixture
def operator(session):
    from identity.accounts.actions import create_user, make_operator

    make_operator(create_user("ops@platform.test", PASSWORD))
    return session("ops@platform.test")


def test_the_operator_deletes_a_tenant_and_every_service_confirms(make_tenant, add_member, session, operator):
    from identity.accounts.models import Membership, User
    from identity.audit.models import AuditEvent

    doomed = make_tenant("lab-a", "owner@lab-a.test")
    kept = make_tenant("lab-b", "owner@lab-b.test")
    add_member(doomed, "physio@lab-a.test", "physiologist")
    add_member(kept, "physio@lab-a.test", "viewer")  # also a member elsewhere: keeps the account
    tenant_id = str(doomed.id)

    answer = operator.delete(f"/api/v1/tenants/{tenant_id}/")
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert answer["Location"] == f"/api/v1/tenants/{tenant_id}/deletion"
    assert body["status"] == "pending" and body["subject"] == tenant_id
    own = body["services"][0]
    assert own["service"] == "identity" and own["removed"]["membership"] == 2 and own["removed"]["users"] == 1
    assert [s["service"] for s in body["services"][1:]] == ["measurements", "reports", "notifications"]
    assert Membership.all_tenants.filter(tenant_id=tenant_id).count() == 0
    assert AuditEvent.objects.filter(tenant_id=tenant_id).count() == 0
    assert not User.objects.filter(email="owner@lab-a.test").exists()
    assert User.objects.filter(email="physio@lab-a.test").exists()
    assert operator.get(f"/api/v1/tenants/{tenant_id}/").status_code == 404
    [request] = [json.loads(r.body) for r in OutboxEvent.objects.filter(type="identity.tenant.deleted")]
    assert request["tenantid"] == tenant_id and request["data"]["tenant_id"] == tenant_id
    assert AuditEvent.objects.filter(kind="tenant.deleted", tenant_id=None).count() == 1
    assert session("owner@lab-b.test").get("/api/v1/tenants/current/").status_code == 200

    consumer = EventConsumer("identity", load())
    first = confirmed("measurements", tenant_id, {"athlete": 3})
    assert consumer.process(first) == "handled" and consumer.process(first) == "duplicate"
    from identity.accounts import actions

    assert actions.reemit_tenant_deletions(older_than_s=0) == 1  # reports and notifications have not confirmed
    again = [json.loads(r.body)["data"] for r in OutboxEvent.objects.filter(type="identity.tenant.deleted")]
    assert again[-1] == {"tenant_id": tenant_id, "reemitted": 1, "deleted_by": again[0]["deleted_by"]}
    for service in ("reports", "notifications"):
        assert consumer.process(confirmed(service, tenant_id)) == "handled"
    status = operator.get(f"/api/v1/tenants/{tenant_id}/deletion").json()
    assert status["status"] == "confirmed" and status["emitted"] == 2
    assert status["services"][1]["removed"] == {"athlete": 3}
    assert actions.reemit_tenant_deletions(older_than_s=0) == 0


def test_only_the_operator_deletes_tenants_or_reads_their_deletion(make_tenant, session, operator):
    import uuid

    tenant = make_tenant("lab-a", "owner@lab-a.test")
    owner = session("owner@lab-a.test")
    refused = owner.delete(f"/api/v1/tenants/{tenant.id}/")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert owner.get(f"/api/v1/tenants/{tenant.id}/deletion").status_code == 403
    assert operator.delete(f"/api/v1/tenants/{uuid.uuid4()}/").status_code == 404
    assert operator.get(f"/api/v1/tenants/{tenant.id}/deletion").status_code == 404  # not deleted
    assert owner.get("/api/v1/tenants/current/").status_code == 200
