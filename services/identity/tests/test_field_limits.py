"""Free-text fields are bounded (issue 12): a name, an API key's name or a tenant's name beyond its limit is a 400
naming the field and the limit; the document bounds every free-text field of a request."""
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_texts_beyond_their_limits_are_refused(make_tenant, session):
    make_tenant("lab-a", "owner@lab-a.test")
    owner = session("owner@lab-a.test")
    for method, path, field, limit in [("patch", "/api/v1/users/me", "full_name", 200),
                                       ("post", "/api/v1/tenants/current/api-keys/", "name", 100),
                                       ("patch", "/api/v1/tenants/current/", "name", 200)]:
        before = owner.get(path).json() if method == "patch" else None
        response = getattr(owner, method)(path, {field: "x" * (limit + 1), "role": "viewer"}, format="json")
        assert response.status_code == 400, (path, response.content)
        [error] = [e for e in response.json()["errors"] if e["field"] == field]
        assert str(limit) in error["detail"], (path, error)
        if before is not None:
            assert owner.get(path).json() == before


def test_every_free_text_field_in_the_document_is_bounded():
    from drf_spectacular.generators import SchemaGenerator

    from servicekit.testing import unbounded_request_fields

    assert unbounded_request_fields(SchemaGenerator().get_schema(public=True)) == []
