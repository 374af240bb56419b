"""The service runs: health, readiness with the database, its OpenAPI document, problem+json for unknown paths."""


def test_service_runs(service_runs):
    paths = service_runs()["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/me",
                 "/api/v1/auth/service-token", "/api/v1/tenants/current/", "/api/v1/tenants/",
                 "/api/v1/tenants/current/members/", "/api/v1/tenants/current/members/{id}/",
                 "/api/v1/tenants/current/invitations/", "/api/v1/tenants/current/invitations/{id}/",
                 "/api/v1/auth/invitations/accept"):
        assert path in paths, path
    assert paths["/api/v1/auth/invitations/accept"]["post"]["security"] == [{}]
    assert paths["/api/v1/auth/login"]["post"]["security"] == [{}]  # public: no bearer needed
    assert paths["/api/v1/auth/me"]["get"]["security"] == [{"bearer": []}]
