"""Free-text fields are bounded (issue 12): a webhook's description and URL beyond their limits are a 400 naming the
field and the limit, nothing stored; the document bounds every other free-text field of a request."""
import pytest

from servicekit import limits

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def local_rules(settings):
    settings.WEBHOOK_PUBLIC_ONLY = False


@pytest.mark.parametrize("field, value, limit", [("description", "d" * (limits.DESCRIPTION + 1), limits.DESCRIPTION),
                                                 ("url", "http://127.0.0.1:9/" + "p" * 2000, 2000)])
def test_webhook_text_beyond_its_limit_is_refused(caller, tenant_a, field, value, limit):
    owner = caller(tenant_a)
    body = {"url": "http://127.0.0.1:9/hooks", "events": ["reports.*"], field: value}
    response = owner.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    [error] = [e for e in response.json()["errors"] if e["field"] == field]
    assert str(limit) in error["detail"]
    assert owner.get("/api/v1/webhooks/").json()["results"] == []
    made = owner.post("/api/v1/webhooks/", {**body, field: value[:limit]}, format="json")
    assert made.status_code == 201, made.content
    changed = owner.patch(f"/api/v1/webhooks/{made.json()['id']}", {field: value}, format="json")
    assert changed.status_code == 400
    assert owner.get(f"/api/v1/webhooks/{made.json()['id']}").json()[field] == value[:limit]


# the preference kinds are free keys in the document; the code takes only the known kinds (tested below)
BOUNDED_IN_CODE = {"PUT /api/v1/notifications/preferences/ (application/json): kinds{}"}


def test_every_free_text_field_in_the_document_is_bounded():
    from drf_spectacular.generators import SchemaGenerator

    from servicekit.testing import unbounded_request_fields

    assert set(unbounded_request_fields(SchemaGenerator().get_schema(public=True))) <= BOUNDED_IN_CODE


def test_unknown_preference_kinds_are_refused(caller, tenant_a):
    me = caller(tenant_a, "viewer")
    before = me.get("/api/v1/notifications/preferences").json()
    kinds = {f"kind-{i}": {"in_app": True, "email": False} for i in range(1000)}
    response = me.put("/api/v1/notifications/preferences", {"kinds": kinds}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "kinds"
    assert me.get("/api/v1/notifications/preferences").json() == before
