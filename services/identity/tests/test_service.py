"""Service plumbing: health, OpenAPI, problem+json on unknown paths."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db(transaction=True)


def test_openapi_lists_identity_endpoints():
    response = APIClient().get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/me",
                 "/api/v1/auth/service-token", "/api/v1/tenants/current/", "/api/v1/tenants/",
                 "/api/v1/tenants/current/members/", "/api/v1/tenants/current/members/{id}/",
                 "/api/v1/tenants/current/invitations/", "/api/v1/tenants/current/invitations/{id}/",
                 "/api/v1/auth/invitations/accept"):
        assert path in paths, path
    assert paths["/api/v1/auth/invitations/accept"]["post"]["security"] == [{}]
    assert paths["/api/v1/auth/login"]["post"]["security"] == [{}]  # public: no bearer needed
    assert paths["/api/v1/auth/me"]["get"]["security"] == [{"bearer": []}]


def test_health_and_unknown_paths():
    assert APIClient().get("/healthz").json() == {"status": "alive"}
    ready = APIClient().get("/readyz")
    assert ready.status_code == 200, ready.content
    missing = APIClient().get("/api/v1/nothing")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"
