"""HTTP client of the analysis service (it owns the cart formats and the computation; we never import its code).

Errors: `AnalysisProblem` when analysis answered with a problem (4xx: the input is at fault; permanent), and
`AnalysisUnavailable` when it could not answer (connection, timeout, 5xx: worth a retry).
"""
from __future__ import annotations

import threading

import httpx
from django.conf import settings

from servicekit import requestid

from . import service_tokens


class AnalysisError(Exception):
    pass


class AnalysisProblem(AnalysisError):
    def __init__(self, status: int, problem: dict):
        super().__init__(problem.get("detail") or f"analysis answered {status}")
        self.status, self.problem = status, problem


class AnalysisUnavailable(AnalysisError):
    pass


_local = threading.local()


def _http() -> httpx.Client:
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "base", None) != settings.ANALYSIS_URL:
        client = httpx.Client(base_url=settings.ANALYSIS_URL.rstrip("/"), timeout=settings.ANALYSIS_TIMEOUT_S)
        _local.client, _local.base = client, settings.ANALYSIS_URL
    return client


def _call(tenant_id: str, path: str, **kwargs) -> dict:
    for attempt in (1, 2):
        headers = {"Authorization": "Bearer " + service_tokens.service_token(tenant_id)}
        rid = requestid.current_request_id()
        if rid:
            headers[requestid.HEADER] = rid
        try:
            response = _http().post(path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise AnalysisUnavailable(f"analysis service is unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 401 and attempt == 1:
            service_tokens.invalidate(tenant_id)  # a rotated or expired token: fetch a new one once
            continue
        break
    if response.status_code >= 500:
        raise AnalysisUnavailable(f"analysis service answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        if not isinstance(body, dict) or "detail" not in body:
            body = {"type": "urn:vo2:problem:analysis-error", "title": "Analysis failed",
                    "status": response.status_code, "detail": response.text[:500]}
        raise AnalysisProblem(response.status_code, body)
    return body


def parse(tenant_id: str, filename: str, data: bytes, format_hint: str | None = None) -> dict:
    """`POST /api/v1/analysis/parse` → {"format", "metadata", "samples": {col: [...]}, "warnings"}."""
    form = {"format": format_hint} if format_hint else None
    return _call(tenant_id, "/api/v1/analysis/parse", files={"file": (filename or "upload", data)}, data=form)


def cpet(tenant_id: str, samples: dict, athlete: dict | None = None, averaging: dict | None = None,
         overrides: dict | None = None, lactate: list | None = None) -> dict:
    """`POST /api/v1/analysis/cpet` → the CPET result (vo2max, vt1, vt2, zones, ...)."""
    body = {"samples": samples, "athlete": athlete, "averaging": averaging, "overrides": overrides or None}
    if lactate:
        body["lactate"] = lactate
    return _call(tenant_id, "/api/v1/analysis/cpet", json=body)


def lactate(tenant_id: str, steps: list[dict], sport: str = "cycling") -> dict:
    """`POST /api/v1/analysis/lactate` → lactate thresholds by every method."""
    return _call(tenant_id, "/api/v1/analysis/lactate", json={"steps": steps, "sport": sport})
