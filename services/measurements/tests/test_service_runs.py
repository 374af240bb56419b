"""Service plumbing (the kit's check): health, readiness with the database, OpenAPI, problem+json on unknown paths."""
import pytest

pytestmark = pytest.mark.django_db


def test_service_runs_and_documents_its_endpoints(service_runs):
    paths = service_runs()["paths"]
    for path in ("/api/v1/athletes/", "/api/v1/athletes/{id}/", "/api/v1/athletes/{id}/progress/",
                 "/api/v1/tests/", "/api/v1/tests/{id}/", "/api/v1/tests/{id}/samples/",
                 "/api/v1/tests/{id}/lactate-steps/", "/api/v1/tests/{id}/analysis/",
                 "/api/v1/tests/{id}/analysis/versions/", "/api/v1/imports/", "/api/v1/imports/{id}/",
                 "/api/v1/imports/{id}/rerun/"):
        assert path in paths, path
    assert set(paths["/api/v1/tests/{id}/analysis/"]) >= {"get", "patch"}
