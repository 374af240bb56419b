"""What reports reads from measurements (GET only), through the kit's service client (servicekit.http: a service
token from identity for the tenant, one retry on 401, timeouts, request id and trace headers, errors as
`http.NotFound` / `http.Unavailable` / `http.Refused`).

    GET {MEASUREMENTS_URL}/api/v1/tests/{id}/ | /analysis/ | /samples/ | /lactate-steps/
    GET {MEASUREMENTS_URL}/api/v1/athletes/{id}/ | /api/v1/athletes/{id}/progress/
"""
from __future__ import annotations

from servicekit import http


class Measurements:
    def __init__(self, client: http.ServiceClient):
        self.client = client

    def get(self, tenant_id, path: str, *, missing_ok: bool = False):
        return self.client.get(path, tenant_id=str(tenant_id), missing_ok=missing_ok)

    def caller_sees_test(self, authorization: str, test_id) -> bool:
        """Does the caller (their own token) see this test? Answers a report request for another tenant's test,
        or for a test an athlete may not see, with 404 before anything is queued."""
        try:
            self.client.get(f"/api/v1/tests/{test_id}/", authorization=authorization)
        except http.NotFound:
            return False
        except http.Refused as exc:
            if exc.status == 403:
                return False
            raise http.Unavailable(exc.status, detail=f"measurements answered {exc.status} for the test check",
                                   service="measurements") from exc
        return True

    def analysis_for_caller(self, authorization: str, test_id):
        """The test's stored result as the caller sees it (None: not analysed yet)."""
        try:
            return self.client.get(f"/api/v1/tests/{test_id}/analysis/", authorization=authorization, missing_ok=True)
        except http.Refused as exc:
            if exc.status == 403:
                return None
            raise http.Unavailable(exc.status, detail=f"measurements answered {exc.status} for the analysis check",
                                   service="measurements") from exc

    def own_athletes(self, authorization: str) -> list[str]:
        """The athlete records the caller (an athlete user) is linked to, as measurements scopes them."""
        body = self.client.get("/api/v1/athletes/?page_size=200", authorization=authorization)
        rows = body.get("results") if isinstance(body, dict) else body
        return [str(r["id"]) for r in rows or [] if isinstance(r, dict) and r.get("id")]

    def test(self, tenant_id, test_id):
        return self.get(tenant_id, f"/api/v1/tests/{test_id}/")

    def analysis(self, tenant_id, test_id):
        return self.get(tenant_id, f"/api/v1/tests/{test_id}/analysis/", missing_ok=True)

    def samples(self, tenant_id, test_id):
        return self.get(tenant_id, f"/api/v1/tests/{test_id}/samples/", missing_ok=True)

    def lactate_steps(self, tenant_id, test_id):
        return self.get(tenant_id, f"/api/v1/tests/{test_id}/lactate-steps/", missing_ok=True)

    def athlete(self, tenant_id, athlete_id):
        return self.get(tenant_id, f"/api/v1/athletes/{athlete_id}/")

    def progress(self, tenant_id, athlete_id):
        return self.get(tenant_id, f"/api/v1/athletes/{athlete_id}/progress/", missing_ok=True)


_measurements: Measurements | None = None


def measurements() -> Measurements:
    global _measurements
    if _measurements is None:
        from django.conf import settings

        from servicekit import service_tokens

        _measurements = Measurements(http.ServiceClient(
            "measurements", lambda: settings.MEASUREMENTS_URL, tokens=service_tokens.for_tenant,
            timeout=lambda: settings.MEASUREMENTS_TIMEOUT_S))
    return _measurements


class Identity:
    """What reports reads from identity: the tenant's name, the lab's name on a report whose settings name none."""

    def __init__(self, client: http.ServiceClient):
        self.client = client

    def tenant_name(self, tenant_id) -> str | None:
        try:
            body = self.client.get("/api/v1/tenants/current/", tenant_id=str(tenant_id), missing_ok=True)
        except (http.Unavailable, http.Refused):
            return None  # the header then says the product's name; not worth failing or delaying a report
        name = body.get("name") if isinstance(body, dict) else None
        return str(name) if name else None


_identity: Identity | None = None


def identity() -> Identity:
    global _identity
    if _identity is None:
        from django.conf import settings

        from servicekit import service_tokens

        _identity = Identity(http.ServiceClient("identity", lambda: settings.IDENTITY_URL,
                                                tokens=service_tokens.for_tenant, timeout=lambda: 5.0))
    return _identity


def set_identity(client: Identity | None) -> None:
    """Tests: read from this client (None: the one from settings)."""
    global _identity
    _identity = client


def set_measurements(client: Measurements | None) -> None:
    """Tests: read from this client (None: the one from settings)."""
    global _measurements
    _measurements = client
