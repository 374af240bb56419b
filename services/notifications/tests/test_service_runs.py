import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_health_and_readiness_touch_the_database():
    client = Client()
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz").json()
    assert ready["checks"]["database"]["status"] == "ok"


def test_serves_its_openapi_schema():
    schema = Client().get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")


def test_unknown_path_is_a_problem():
    response = Client().get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:vo2:problem:not-found"
