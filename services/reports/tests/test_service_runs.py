"""The service runs: health, readiness with the database, its OpenAPI document, problem+json for unknown paths."""


def test_service_runs(service_runs):
    paths = service_runs()["paths"]
    for path in ("/api/v1/reports/", "/api/v1/reports/{id}/", "/api/v1/reports/{id}/file/", "/api/v1/reports/{id}/link/",
                 "/api/v1/reports/settings"):
        assert path in paths, path
