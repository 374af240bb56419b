"""The reports service, as an export asks it (never its code or database): the athlete's rendered reports and their
files, with a service token for the tenant, through the kit's client."""
from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from servicekit import http, service_tokens

client = http.ServiceClient("reports", lambda: settings.REPORTS_URL, tokens=service_tokens.for_tenant,
                            timeout=lambda: settings.REPORTS_TIMEOUT_S)


def athletes_reports(tenant_id: str, athlete_id: str) -> list[dict]:
    """Every finished report of the athlete (`GET /api/v1/reports/?athlete=&status=done`, all pages)."""
    found, path = [], f"/api/v1/reports/?athlete={athlete_id}&status=done&page_size=100"
    while path:
        page = client.get(path, tenant_id=str(tenant_id)) or {}
        found += page.get("results") or []
        following = page.get("next")
        path = (lambda p: f"{p.path}?{p.query}")(urlsplit(following)) if following else None
    return found


def report_file(tenant_id: str, report_id: str) -> bytes | None:
    """The report's PDF or DOCX; None when reports no longer keeps the file (410) or the report (404)."""
    try:
        return client.get(f"/api/v1/reports/{report_id}/file", tenant_id=str(tenant_id), raw=True,
                          missing_ok=True, headers={"Accept": "*/*"})
    except http.Refused as exc:
        if exc.status == 410:
            return None
        raise
