"""Health endpoints and problem+json answers for errors raised outside DRF (404 on unknown paths, 500)."""
from __future__ import annotations

import json

from django.db import connection
from django.http import HttpResponse

from ..config import env
from ..health import check_broker, check_cache, run_checks
from ..problems import PROBLEM_CONTENT_TYPE, problem


def _json(body: dict, status: int, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type=content_type)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def healthz(request):
    return _json({"status": "alive"}, 200)


def readyz(request):
    from django.conf import settings

    checks = {"database": check_database, "cache": check_cache}
    if getattr(settings, "USES_BROKER", True):
        checks["broker"] = lambda: check_broker(settings.BROKER_URL)
    ok, body = run_checks(checks)
    return _json(body, 200 if ok else 503)


def not_found(request, exception=None):
    return _json(problem(404, "not-found", f"No route for {request.path}."), 404, PROBLEM_CONTENT_TYPE)


def server_error(request):
    return _json(problem(500, "internal-error", "The service failed; the request id names it in our logs."), 500,
                 PROBLEM_CONTENT_TYPE)
