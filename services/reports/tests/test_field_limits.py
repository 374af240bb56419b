"""Free-text fields are bounded (issue 12): a report's conclusion and the lab's texts beyond their limits are a 400
naming the field and the limit, nothing stored; the document bounds every free-text field of a request."""
import pytest

from reports.documents.models import Report
from servicekit import limits
from servicekit.tenancy import tenant_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_conclusion_beyond_its_limit_is_refused(caller, tenant_a, upstream, measurements, zan_payload):
    owner = caller(tenant_a)
    test_id = upstream.add_test(tenant_a, zan_payload)
    body = {"test": test_id, "language": "en", "conclusion": "c" * (limits.CONCLUSION + 1)}
    response = owner.post("/api/v1/reports/", body, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    [error] = [e for e in response.json()["errors"] if e["field"] == "conclusion"]
    assert str(limits.CONCLUSION) in error["detail"]
    with tenant_transaction(tenant_a):
        assert Report.objects.count() == 0
    assert owner.post("/api/v1/reports/", {**body, "conclusion": "c" * limits.CONCLUSION},
                      format="json").status_code == 202


@pytest.mark.parametrize("field, limit", [("lab_name", 200), ("lab_address", 300), ("lab_contact", 200)])
def test_lab_texts_beyond_their_limits_are_refused(caller, tenant_a, field, limit):
    owner = caller(tenant_a)
    before = owner.get("/api/v1/reports/settings").json()
    response = owner.put("/api/v1/reports/settings", {field: "x" * (limit + 1)}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == field
    assert str(limit) in response.json()["errors"][0]["detail"]
    assert owner.get("/api/v1/reports/settings").json() == before


def test_every_free_text_field_in_the_document_is_bounded():
    from drf_spectacular.generators import SchemaGenerator

    from servicekit.testing import unbounded_request_fields

    assert unbounded_request_fields(SchemaGenerator().get_schema(public=True)) == []
