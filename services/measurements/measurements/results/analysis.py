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


def cpet(tenant_id: str, samples: dict, context: dict | None = None, overrides: dict | None = None,
         lactate: list | None = None) -> dict:
    """`POST /api/v1/analysis/cpet` → the CPET result (vo2max, vt1, vt2, zones, …), and with lactate steps their
    thresholds too (`result["lactate"]`): one request per result. `context`: results.queries.athlete_inputs (the
    day's body mass, the athlete on record, the file's header, test date, declared protocol, averaging)."""
    context = context or {}
    body = {"samples": samples, "athlete": context.get("athlete"), "athlete_record": context.get("athlete_record"),
            "file_metadata": context.get("file_metadata"), "test_date": context.get("test_date"),
            "protocol": context.get("protocol"), "averaging": context.get("averaging"),
            "overrides": overrides or None, "sport": context.get("sport")}
    if lactate:
        body["lactate"] = lactate
    return client.post("/api/v1/analysis/cpet", tenant_id=str(tenant_id), json=body)


def lactate(tenant_id: str, steps: list[dict], sport: str) -> dict:
    """`POST /api/v1/analysis/lactate` → lactate thresholds by every method (a test with steps but no samples)."""
    return client.post("/api/v1/analysis/lactate", tenant_id=str(tenant_id), json={"steps": steps, "sport": sport})


def align_heart_rate(tenant_id: str, filename: str, data: bytes, test: dict, offset_s: float | None) -> dict:
    """`POST /api/v1/analysis/heart-rate/align` → {method, offset_s, correlation, coverage, hr_bpm (one per sample),
    warnings, format}: the track read (FIT, TCX, CSV) and put onto the test's time axis."""
    import orjson

    form = {"test": orjson.dumps(test).decode()}
    if offset_s is not None:
        form["offset_s"] = repr(float(offset_s))
    return client.post("/api/v1/analysis/heart-rate/align", tenant_id=str(tenant_id),
                       files={"file": (filename or "track", data)}, data=form)
