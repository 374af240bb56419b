"""The service runs: health, readiness with the database, its OpenAPI document, problem+json for unknown paths."""


def test_service_runs(service_runs):
    paths = service_runs()["paths"]
    for path in ("/api/v1/notifications/", "/api/v1/notifications/{id}/", "/api/v1/notifications/{id}/read/"):
        assert path in paths, sorted(paths)
