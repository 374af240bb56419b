"""Per-request context: request id (and trace id) bound for logs and echoed; the caller's principal cleared
afterwards; links built from the public URL the gateway saw; security headers; oversized bodies as 413 problems."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import time

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host

from .. import metrics, requestid, tracing
from ..principal import _current_principal, _current_tenant
from ..problems import PROBLEM_CONTENT_TYPE

access_log = logging.getLogger("vo2.access")

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9_~\-][A-Za-z0-9._~\-]*)*$")
# Answers that carry tokens (login, refresh, service tokens, SSO, accepted invitations) or new API keys.
NO_STORE_PREFIXES = ("/api/v1/auth/", "/api/v1/tenants/current/api-keys")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


_public_base: contextvars.ContextVar[str | None] = contextvars.ContextVar("public_base", default=None)


def public_url(path: str) -> str:
    """A link to `path` (`/api/v1/...`) as the client reaches it: through the gateway, its public URL (scheme, host
    and prefix the gateway passed on); without one (tests, a direct call) the path itself."""
    base = _public_base.get()
    return base + path if base and path.startswith("/") else path


def use_public_url(request) -> str | None:
    """Make `request.build_absolute_uri()` (pagination links) name the public URL the client used: the gateway sets
    X-Forwarded-Proto/-Host/-Prefix (and strips any a client sent). Values that are not a plain host (or not in
    ALLOWED_HOSTS), scheme or path prefix are ignored. Returns the public base URL, or None without a gateway."""
    meta = request.META
    host = (meta.get("HTTP_X_FORWARDED_HOST") or "").split(",")[-1].strip()
    if not host or not _HOST.match(host):
        return None
    from django.conf import settings

    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS or ["*"]):
        return None
    proto = (meta.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[-1].strip().lower()
    prefix = (meta.get("HTTP_X_FORWARDED_PREFIX") or "").split(",")[-1].strip().rstrip("/")
    if not _PREFIX.match(prefix):
        prefix = ""
    meta["HTTP_HOST"] = host
    if proto in ("http", "https"):
        meta["wsgi.url_scheme"] = proto
    if prefix:
        request.path = prefix + request.path
    return f"{proto if proto in ('http', 'https') else request.scheme}://{host}{prefix}"


def _too_large_response() -> HttpResponse:
    from .drf import body_too_large

    return HttpResponse(json.dumps(body_too_large()), status=413, content_type=PROBLEM_CONTENT_TYPE)


class RequestContextMiddleware:
    """Also the service's web-side observability: its metrics endpoint is started with the middleware (once per
    process, METRICS_PORT), each request is counted and timed by route template, and is a server span of the
    caller's trace (servicekit.metrics, servicekit.tracing)."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        service = getattr(settings, "SERVICE_NAME", "unknown")
        tracing.setup(service, role="web")
        metrics.serve()
        if getattr(settings, "JWT_JWKS_WARM_UP", True):  # identity verifies with its own keys (False there)
            from .. import jwt as kit_jwt

            kit_jwt.warm_up()
        self.metrics = metrics.RequestMetrics(service)
        self._routes: dict[str, str] = {}

    def _route(self, request) -> str:
        match = getattr(request, "resolver_match", None)
        if match is None or not getattr(match, "route", None):
            return "unmatched"
        route = self._routes.get(match.route)
        if route is None:
            route = self._routes[match.route] = metrics.route_template(match.route)
        return route

    def __call__(self, request):
        rid = requestid.accept_or_make(request.headers.get(requestid.HEADER))
        token = requestid.bind(rid)
        p_token, t_token = _current_principal.set(None), _current_tenant.set(None)
        started = time.perf_counter()
        observed = request.path_info not in ("/healthz", "/readyz")
        status, method = 500, request.method
        if observed:
            self.metrics.in_flight.inc()
        try:
            with tracing.span(method, "server", traceparent=request.headers.get("traceparent"),
                              new_trace_id=rid if requestid.is_trace_id(rid) else requestid.make(),
                              attributes={"http.request.method": method}) as span:
                public_base = use_public_url(request)
                base_token = _public_base.set(public_base)
                try:
                    response = self.get_response(request)
                finally:
                    _public_base.reset(base_token)
                status = response.status_code
                if span is not None:
                    span.update_name(f"{method} {self._route(request)}")
                    span.set_attribute("http.route", self._route(request))
                    tracing.set_status(span, status)
                response[requestid.HEADER] = rid
                for name, value in SECURITY_HEADERS.items():
                    response.setdefault(name, value)
                if request.path_info.startswith(NO_STORE_PREFIXES):  # token answers: never kept by any cache
                    response["Cache-Control"] = "no-store"
                location = response.get("Location")
                if public_base and location and location.startswith("/") and not location.startswith("//"):
                    response["Location"] = public_base + location  # links name the public URL, not this service
                if observed:
                    access_log.info("%s %s %s", request.method, request.path, response.status_code,
                                    extra={"method": request.method, "path": request.path,
                                           "status": response.status_code,
                                           "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
                return response
        finally:
            if observed:
                self.metrics.in_flight.dec()
                self.metrics.observe(self._route(request), method, status, time.perf_counter() - started)
            _current_principal.reset(p_token)
            _current_tenant.reset(t_token)
            requestid.unbind(token)

    def process_exception(self, request, exception):
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE outside DRF's handler: Django would answer an HTML 400.
        if isinstance(exception, RequestDataTooBig):
            return _too_large_response()
        from .drf import DATABASE_DOWN, database_problem

        if isinstance(exception, DATABASE_DOWN):  # outside DRF's handler: a 503 problem too, never a 500
            body, headers = database_problem(exception)
            response = HttpResponse(json.dumps(body), status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
            for name, value in headers.items():
                response[name] = value
            return response
        return None
