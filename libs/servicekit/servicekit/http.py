"""Service-to-service HTTP: one client for every call one service makes to another.

    analysis = ServiceClient("analysis", lambda: settings.ANALYSIS_URL, tokens=service_tokens.for_tenant,
                             timeout=lambda: settings.ANALYSIS_TIMEOUT_S)
    analysis.post("/api/v1/analysis/cpet", tenant_id=tenant, json=body)          # a service token for the tenant
    measurements.get(f"/api/v1/tests/{id}/", authorization=request.headers["Authorization"])  # the caller's token

Every call carries X-Request-ID and a W3C `traceparent`, has a timeout, and is retried once with a fresh service
token when the callee answers 401 (its cached token expired early or identity rotated its key). Answers come out as
the decoded JSON body, or as one of three errors:
- `Unavailable`: the callee could not answer (connection, timeout, 5xx, 429) — worth a retry later;
- `NotFound`: 404 (or None with `missing_ok=True`);
- `Refused`: any other 4xx — the request is at fault; `.problem` is the callee's problem+json (or one made up).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from . import problems, requestid, tracing

TRACEPARENT = "traceparent"


class ServiceError(Exception):
    slug, default_status = "upstream-error", 502

    def __init__(self, status: int | None, problem: dict | None = None, *, detail: str | None = None,
                 service: str = ""):
        self.status, self.service = status, service
        self.detail = detail or (problem or {}).get("detail") or f"{service or 'the service'} answered {status}"
        # always a problem object, so that a job row can keep it as the reason it failed
        self.problem = problem or problems.problem(status or self.default_status, self.slug, self.detail)
        super().__init__(self.detail)


class Unavailable(ServiceError):
    """No answer worth keeping: connection refused, timeout, 5xx, 429. A retry later may succeed."""

    slug, default_status = "unavailable", 503


class Refused(ServiceError):
    """A 4xx answer: the request (or the data in it) is at fault; retrying the same request will not help."""

    slug, default_status = "upstream-refused", 422


class NotFound(Refused):
    slug, default_status = "not-found", 404


def trace_headers() -> dict[str, str]:
    """X-Request-ID and traceparent for an outgoing call. The trace continues the current one (the client span this
    call records, or the trace id the middleware or the job wrapper bound); otherwise it starts here, with the
    request id as the trace id when it has the trace-id form, so that logs and traces name the same thing."""
    headers = {}
    rid = requestid.current_request_id()
    if rid:
        headers[requestid.HEADER] = rid
    headers[TRACEPARENT] = tracing.traceparent()
    return headers


def _value(v):
    return v() if callable(v) else v


class ServiceClient:
    """Calls to one service. `base_url` and `timeout` may be callables (read at call time, e.g. from settings);
    `tokens(tenant_id)` gives a service token for a tenant and may have `invalidate(tenant_id)`."""

    def __init__(self, name: str, base_url: str | Callable[[], str], *,
                 tokens: Callable[[str], str] | None = None, timeout: float | Callable[[], float] = 30.0,
                 transport: httpx.BaseTransport | None = None):
        self.name, self._base, self.tokens, self._timeout, self._transport = name, base_url, tokens, timeout, transport
        self._clients: dict[tuple, httpx.Client] = {}
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return str(_value(self._base)).rstrip("/")

    def _http(self) -> httpx.Client:
        key = (self.base_url, float(_value(self._timeout)))
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = httpx.Client(base_url=key[0], timeout=key[1], transport=self._transport)
                    self._clients[key] = client
        return client

    def request(self, method: str, path: str, *, tenant_id: str | None = None, authorization: str | None = None,
                missing_ok: bool = False, headers: dict | None = None, raw: bool = False, **kwargs) -> Any:
        """One call → the JSON body (None for an empty one), or with `raw=True` the body's bytes (a file). Either
        `tenant_id` (a service token) or `authorization` (the caller's `Authorization` header, passed on as it
        came)."""
        if (tenant_id is None) == (authorization is None):
            raise ValueError("name the tenant (service token) or pass the caller's authorization, not both")
        for attempt in (1, 2):
            token = authorization or "Bearer " + self._token(str(tenant_id))
            with tracing.span(f"{method} {self.name}", "client",
                              attributes={"http.request.method": method, "server.address": self.name,
                                          "url.path": path.split("?", 1)[0]}) as span:
                sent = {"Accept": "application/json", **trace_headers(), **(headers or {}), "Authorization": token}
                try:
                    response = self._http().request(method, path, headers=sent, **kwargs)
                except httpx.HTTPError as exc:
                    raise Unavailable(None, detail=f"{self.name} is unreachable: {type(exc).__name__}: {exc}",
                                      service=self.name) from exc
                tracing.set_status(span, response.status_code)
            can_refresh = tenant_id is not None and hasattr(self.tokens, "invalidate")
            if response.status_code == 401 and attempt == 1 and can_refresh:
                self.tokens.invalidate(str(tenant_id))  # expired early or the signing key rotated: once more
                continue
            break
        return self._answer(response, path, missing_ok, raw)

    def _token(self, tenant_id: str) -> str:
        if self.tokens is None:
            raise ValueError(f"the {self.name} client has no service tokens: pass the caller's authorization")
        try:
            return self.tokens(tenant_id)
        except ServiceError:
            raise
        except Exception as exc:
            # identity down, or refusing this service's credentials: a deployment fault that fixed settings heal,
            # so the call is worth retrying later either way (a job gives up with this reason after its retries)
            raise Unavailable(None, detail=f"no service token for tenant {tenant_id}: {exc}",
                              service="identity") from exc

    def _answer(self, response: httpx.Response, path: str, missing_ok: bool, raw: bool = False) -> Any:
        status = response.status_code
        if status >= 500 or status == 429:
            raise Unavailable(status, detail=f"{self.name} answered {status}", service=self.name)
        if raw and 300 <= status < 400 and response.headers.get("location"):
            # a presigned link to the object store (e.g. reports with S3_PRESIGNED_DOWNLOADS): it carries its own
            # signature and must not get our token
            try:
                followed = httpx.get(response.headers["location"], timeout=float(_value(self._timeout)),
                                     headers=trace_headers())
            except httpx.HTTPError as exc:
                raise Unavailable(None, detail=f"{self.name}'s file link is unreachable: {exc}",
                                  service=self.name) from exc
            if followed.status_code >= 400:
                raise Unavailable(followed.status_code, detail=f"{self.name}'s file link answered "
                                  f"{followed.status_code}", service=self.name)
            return followed.content
        if raw and status < 400:
            return response.content
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if status < 400:
            return body
        if status == 404 and missing_ok:
            return None
        if not isinstance(body, dict) or "detail" not in body:
            body = {"type": f"urn:vo2:problem:{self.name}-error", "title": f"{self.name} refused", "status": status,
                    "detail": f"{self.name} answered {status} for {path}: {response.text[:300]}"}
        raise (NotFound if status == 404 else Refused)(status, body, service=self.name)

    def get(self, path: str, **kwargs) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Any:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
