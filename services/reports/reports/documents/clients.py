"""The two HTTP calls reports makes: a service token from identity, then measurements' data for one test.

    POST {IDENTITY_URL}/api/v1/auth/service-token {"client_id", "client_secret", "tenant"} → {"access", "expires_in"}
    GET  {MEASUREMENTS_URL}/api/v1/tests/{id}/ | /analysis/ | /samples/ | /lactate-steps/
    GET  {MEASUREMENTS_URL}/api/v1/athletes/{id}/ | /api/v1/athletes/{id}/progress/

Errors come out as three kinds: NotFound (the object is not there: the report fails), Unavailable (network, 5xx,
429: retried), Refused (any other answer: the report fails with the status).
"""
from __future__ import annotations

from typing import Callable

import httpx

from servicekit.service_tokens import ServiceTokens as KitServiceTokens


class UpstreamError(RuntimeError):
    code = "upstream-error"

    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.detail, self.status = detail, status


class NotFound(UpstreamError):
    code = "not-found"


class Unavailable(UpstreamError):
    code = "upstream-unavailable"


class Refused(UpstreamError):
    code = "upstream-refused"


class ServiceTokens(KitServiceTokens):
    """The kit's service-token cache, with failures in reports' two kinds (retry or fail the report)."""

    unavailable_error = Unavailable
    refused_error = Refused


class MeasurementsClient:
    def __init__(self, base_url: str, tokens: Callable[[str], str], *, http: httpx.Client | None = None,
                 timeout: float = 30.0):
        self.base = base_url.rstrip("/")
        self.tokens = tokens
        self.http = http or httpx.Client(timeout=timeout)

    def get(self, tenant_id: str, path: str, *, missing_ok: bool = False):
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.tokens(tenant_id)}", "Accept": "application/json"}
            try:
                response = self.http.get(self.base + path, headers=headers)
            except httpx.HTTPError as exc:
                raise Unavailable(f"measurements is unreachable: {exc}") from exc
            if response.status_code == 401 and attempt == 1 and hasattr(self.tokens, "invalidate"):
                self.tokens.invalidate(tenant_id)  # the cached token expired early or a key rotated: once more
                continue
            break
        status = response.status_code
        if status == 200:
            return response.json()
        if status == 404:
            if missing_ok:
                return None
            raise NotFound(f"measurements has no {path}", status)
        if status >= 500 or status == 429:
            raise Unavailable(f"measurements answered {status} for {path}", status)
        raise Refused(f"measurements answered {status} for {path}: {response.text[:200]}", status)

    def caller_sees_test(self, authorization: str, test_id) -> bool:
        """Does the caller (their own token) see this test? Answers a report request for another tenant's test,
        or for a test an athlete may not see, with 404 before anything is queued."""
        try:
            response = self.http.get(f"{self.base}/api/v1/tests/{test_id}/",
                                     headers={"Authorization": authorization, "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise Unavailable(f"measurements is unreachable: {exc}") from exc
        if response.status_code == 200:
            return True
        if response.status_code in (403, 404):
            return False
        raise Unavailable(f"measurements answered {response.status_code} for the test check", response.status_code)

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


_client: MeasurementsClient | None = None


def measurements() -> MeasurementsClient:
    global _client
    if _client is None:
        from django.conf import settings

        tokens = ServiceTokens(settings.IDENTITY_URL, settings.SERVICE_CLIENT_ID, settings.SERVICE_CLIENT_SECRET)
        _client = MeasurementsClient(settings.MEASUREMENTS_URL, tokens, timeout=settings.MEASUREMENTS_TIMEOUT_S)
    return _client


def set_measurements(client: MeasurementsClient | None) -> None:
    global _client
    _client = client
