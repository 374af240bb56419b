"""The internal membership check other services make with a service token (measurements: an athlete record's
`user_id` must be an athlete of the same tenant): the role of an active member of the token's tenant, 404 for
anyone else — another tenant's user, a removed member, an unknown id alike — and people may not ask."""
import uuid

import pytest
from rest_framework.test import APIClient

from .conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def service_client(settings, slug):
    body = {"client_id": "reports", "client_secret": settings.SERVICE_CLIENTS["reports"], "tenant": slug}
    response = APIClient().post("/api/v1/auth/service-token", body, format="json")
    assert response.status_code == 200, response.content
    return client_for(response.json()["access"])


def user_id_of(tenant_id, email):
    from servicekit.tenancy import tenant_transaction

    from identity.accounts.models import Membership

    with tenant_transaction(str(tenant_id)):
        return str(Membership.objects.get(user__email=email).user_id)


def test_a_service_learns_a_members_role_and_nothing_about_other_tenants(make_tenant, add_member, session,
                                                                        settings):
    lab_a, lab_b = make_tenant("lab-a", "owner@lab-a.test"), make_tenant("lab-b", "owner@lab-b.test")
    add_member(lab_a, "ilya@lab-a.test", "athlete")
    add_member(lab_a, "vera@lab-a.test", "physiologist")
    add_member(lab_b, "boris@lab-b.test", "athlete")
    add_member(lab_b, "ilya@lab-a.test", "viewer")  # one person, a member of both
    service = service_client(settings, "lab-a")
    ilya, vera = user_id_of(lab_a.id, "ilya@lab-a.test"), user_id_of(lab_a.id, "vera@lab-a.test")

    answer = service.get(f"/api/v1/internal/members/{ilya}")
    assert answer.status_code == 200 and answer.json() == {"user_id": ilya, "role": "athlete", "is_active": True}
    assert service.get(f"/api/v1/internal/members/{vera}").json()["role"] == "physiologist"
    # the same person seen from lab-b is lab-b's viewer, not lab-a's athlete
    assert service_client(settings, "lab-b").get(f"/api/v1/internal/members/{ilya}").json()["role"] == "viewer"
    # another tenant's user and an id nobody has: the same 404
    boris = user_id_of(lab_b.id, "boris@lab-b.test")
    other, unknown = (service.get(f"/api/v1/internal/members/{u}") for u in (boris, uuid.uuid4()))
    assert other.status_code == unknown.status_code == 404
    assert other.json()["type"] == unknown.json()["type"] == "urn:vo2:problem:not-a-member"
    assert other.json()["detail"] == unknown.json()["detail"]


def test_a_removed_member_is_no_member(make_tenant, add_member, session, settings):
    from servicekit.tenancy import tenant_transaction

    from identity.accounts.models import Membership

    lab = make_tenant("lab-a", "owner@lab-a.test")
    add_member(lab, "ilya@lab-a.test", "athlete")
    ilya = user_id_of(lab.id, "ilya@lab-a.test")
    with tenant_transaction(str(lab.id)):
        assert Membership.objects.filter(user_id=ilya).update(is_active=False) == 1
    assert service_client(settings, "lab-a").get(f"/api/v1/internal/members/{ilya}").status_code == 404


@pytest.mark.parametrize("role", ["owner", "admin", "physiologist", "athlete", "viewer"])
def test_people_of_any_role_may_not_ask(make_tenant, add_member, session, role):
    lab = make_tenant("lab-a", "owner@lab-a.test")
    if role != "owner":
        add_member(lab, f"{role}@lab-a.test", role)
    person = session(f"{role}@lab-a.test")
    owner_id = user_id_of(lab.id, "owner@lab-a.test")
    refused = person.get(f"/api/v1/internal/members/{owner_id}")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert APIClient().get(f"/api/v1/internal/members/{owner_id}").status_code == 401


def test_the_route_is_not_in_the_public_document(make_tenant):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(public=True)["paths"]
    assert not [p for p in paths if "/internal/" in p]
