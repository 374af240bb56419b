"""The analysis service, as measurements asks it (it owns the cart formats and the computation; we never import its
code): read a file, compute a result. Calls carry a service token for the tenant (background jobs) and go through
the kit's client: `http.Unavailable` (no answer: worth a retry), `http.Refused` (the data is at fault)."""
from __future__ import annotations

from django.conf import settings

from servicekit import http, service_tokens

client = http.ServiceClient("analysis", lambda: settings.ANALYSIS_URL, tokens=service_tokens.for_tenant,
                            timeout=lambda: settings.ANALYSIS_TIMEOUT_S)


def parse(tenant_id: str, filename: str, data: bytes, format_hint: str | None = None) -> dict:
    """`POST /api/v1/analysis/parse` → {"format", "metadata", "samples": {col: [...]}, "warnings"}."""
    form = {"format": format_hint} if format_hint else None
    return client.post("/api/v1/analysis/parse", tenant_id=str(tenant_id),
                       files={"file": (filename or "upload", data)}, data=form)


def cpet(tenant_id: str, samples: dict, athlete: dict | None = None, overrides: dict | None = None,
         lactate: list | None = None) -> dict:
    """`POST /api/v1/analysis/cpet` → the CPET result (vo2max, vt1, vt2, zones, …), and with lactate steps their
    thresholds too (`result["lactate"]`): one request per result."""
    body = {"samples": samples, "athlete": athlete, "averaging": None, "overrides": overrides or None}
    if lactate:
        body["lactate"] = lactate
    return client.post("/api/v1/analysis/cpet", tenant_id=str(tenant_id), json=body)


def lactate(tenant_id: str, steps: list[dict], sport: str) -> dict:
    """`POST /api/v1/analysis/lactate` → lactate thresholds by every method (a test with steps but no samples)."""
    return client.post("/api/v1/analysis/lactate", tenant_id=str(tenant_id), json={"steps": steps, "sport": sport})
