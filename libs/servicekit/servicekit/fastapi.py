"""FastAPI mechanism (gateway and analysis): problem+json errors, request ids, health, token dependency."""
from __future__ import annotations

import logging
import logging.config
import time
from typing import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import metrics, requestid, tracing
from .config import env
from .jwt import AUTH_UNAVAILABLE_RETRY_S, AuthUnavailable, InvalidToken, verifier_from_env
from .principal import Principal, reset_principal, set_principal
from .problems import PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA, SLUG_BY_STATUS, ProblemError, problem

log = logging.getLogger(__name__)
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY")]


def problem_json(body: dict, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], headers=headers, media_type=PROBLEM_CONTENT_TYPE)


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead): binds the request id and echoes it on the response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        traceparent = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
                break
        rid = requestid.accept_or_make(incoming)
        state = scope.setdefault("state", {})
        # the gateway falls through to its own routes with the trace it already chose
        trace = requestid.trace_id_of(traceparent) or state.get("trace_id")
        state["request_id"], state["trace_id"] = rid, trace
        token, trace_token = requestid.bind(rid), requestid.bind_trace(trace)
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                names = {h[0].lower() for h in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                headers.append(header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            requestid.unbind_trace(trace_token)
            requestid.unbind(token)


class ObservedMiddleware:
    """Pure ASGI: each request counted and timed by route template (`vo2_http_*`), in flight while it runs, and a
    server span of the caller's trace. Health checks are neither counted nor traced."""

    def __init__(self, app, service: str):
        self.app, self.metrics = app, metrics.RequestMetrics(service)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/readyz"):
            return await self.app(scope, receive, send)
        method, seen = scope["method"], {"status": 500}
        traceparent = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
                break

        async def send_seen(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        route = "unmatched"
        try:
            with tracing.span(method, "server", traceparent=traceparent,
                              attributes={"http.request.method": method}) as span:
                try:
                    await self.app(scope, receive, send_seen)
                finally:
                    matched = scope.get("route")
                    route = getattr(matched, "path", None) or "unmatched"
                    if span is not None:
                        span.update_name(f"{method} {route}")
                        span.set_attribute("http.route", route)
                        tracing.set_status(span, seen["status"])
        finally:
            self.metrics.in_flight.dec()
            self.metrics.observe(route, method, seen["status"], time.perf_counter() - started)


def install(app: FastAPI, service: str, readiness: dict[str, Callable[[], None]] | None = None,
            configure_logging: bool = True, observe: bool = True) -> FastAPI:
    """`observe`: count, time and trace each request here (False for the gateway, which does it itself). Either
    way the process's metrics endpoint starts (METRICS_PORT) and its tracing is set up."""
    if configure_logging:
        logging.config.dictConfig(requestid.logging_config(service, env("LOG_LEVEL", "INFO")))
    tracing.setup(service, role="web")
    metrics.serve()

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError):
        return problem_json(exc.body(), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route for {request.url.path}."
        return problem_json(problem(exc.status_code, SLUG_BY_STATUS.get(exc.status_code, "error"), detail),
                            getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query")) or None,
                   "detail": e.get("msg", "invalid"), **({"code": e["type"]} if e.get("type") else {})}
                  for e in exc.errors()]
        first = errors[0] if errors else {"field": None, "detail": "invalid input"}
        where = f"{first['field']}: " if first["field"] else ""
        # 400, as every Django service answers `validation-error` (one status per problem type; README "Errors").
        return problem_json(problem(400, "validation-error", f"{where}{first['detail']}", errors=errors))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # Starlette runs this outside every middleware, after RequestIdMiddleware let go of the ids: bind them again
        # from the scope so the log line (and the answer) name the request.
        state = request.scope.get("state") or {}
        rid = state.get("request_id")
        token, trace_token = requestid.bind(rid), requestid.bind_trace(state.get("trace_id"))
        try:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
        finally:
            requestid.unbind_trace(trace_token)
            requestid.unbind(token)
        headers = {"X-Request-ID": rid} if rid else None
        if headers:
            headers.update({k.decode(): v.decode() for k, v in SECURITY_HEADERS})
        return problem_json(problem(500, "internal-error", "The service failed; the request id names it in our logs."),
                            headers)

    _document_validation_as_problem(app)

    from .health import run_checks

    checks = readiness or {}

    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz():
        import anyio

        ok, body = await anyio.to_thread.run_sync(run_checks, checks)
        return JSONResponse(body, status_code=200 if ok else 503)

    if observe:
        app.add_middleware(ObservedMiddleware, service=service)
    app.add_middleware(RequestIdMiddleware)  # outermost: the request id is bound before anything else runs
    return app


def _api_routes(routes):
    """Every APIRoute, also inside included routers (newer FastAPI keeps those as one `_IncludedRouter` entry whose
    router already carries its prefix)."""
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


def _needs_principal(dependant) -> bool:
    return any(d.call is require_principal or _needs_principal(d) for d in dependant.dependencies)


PROBLEM_STATUSES = {
    "400": "The input is invalid (`validation-error` naming the fields in `errors`)",
    "401": "No valid access token (`not-authenticated`)",
    "403": "This token does not act for a tenant (`forbidden`)",
    "413": "The request body or file is too large",
}


def _mark_uploads_binary(schemas: dict) -> None:
    """An UploadFile is documented the OpenAPI 3.1 way (`contentMediaType`), which generated clients (e.g.
    openapi-python-client) read as a text field and send the file's name instead of its bytes; `format: binary`,
    as the Django services document theirs, is what every generator reads as a file. Both stay."""
    for body in schemas.values():
        for prop in (body.get("properties") or {}).values():
            if isinstance(prop, dict) and prop.get("type") == "string" and "contentMediaType" in prop:
                prop["format"] = "binary"


def _document_validation_as_problem(app: FastAPI) -> None:
    """FastAPI documents a 422 `HTTPValidationError` on every operation with input; what is sent is a 400
    `validation-error` problem (see `_validation`), so the document says that. Operations behind
    `require_principal` document the bearer token and its 401/403; every 4xx/5xx answer is a problem+json."""
    generate = app.openapi

    def openapi():
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        guarded = {(route.path_format, method.lower()) for route in _api_routes(app.routes)
                   if _needs_principal(route.dependant) for method in route.methods}
        problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, item in (schema.get("paths") or {}).items():
            for method, operation in item.items():
                responses = operation.get("responses") if isinstance(operation, dict) else None
                if responses is None:
                    continue
                if "422" in responses and "HTTPValidationError" in str(responses["422"]):
                    del responses["422"]
                    responses.setdefault("400", {"description": PROBLEM_STATUSES["400"]})
                if "requestBody" in operation:
                    responses.setdefault("400", {"description": PROBLEM_STATUSES["400"]})
                    responses.setdefault("413", {"description": PROBLEM_STATUSES["413"]})
                if (path, method) in guarded:
                    operation["security"] = [{"bearer": []}]
                    responses.setdefault("401", {"description": PROBLEM_STATUSES["401"]})
                    responses.setdefault("403", {"description": PROBLEM_STATUSES["403"]})
                for status, response in responses.items():
                    if str(status)[:1] in ("4", "5") and isinstance(response, dict) and "$ref" not in response:
                        response["content"] = dict(problem_ref)
                operation["responses"] = dict(sorted(responses.items()))
        if guarded:
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        _mark_uploads_binary(schemas)
        schemas.setdefault("Problem", PROBLEM_SCHEMA)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


async def require_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller (each service verifies again; no service trusts the network)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ProblemError(401, "not-authenticated", "A bearer access token is required.",
                           headers={"WWW-Authenticate": 'Bearer realm="vo2max"'})
    try:
        principal = verifier_from_env().verify(token.strip())
    except AuthUnavailable as exc:
        raise ProblemError(503, "auth-unavailable", exc.detail,
                           headers={"Retry-After": str(AUTH_UNAVAILABLE_RETRY_S)}) from exc
    except InvalidToken as exc:
        raise ProblemError(401, "not-authenticated", exc.reason,
                           headers={"WWW-Authenticate": 'Bearer realm="vo2max"'}) from exc
    if not principal.tenant_id:
        raise ProblemError(403, "forbidden", "This token does not act for a tenant.")
    request.state.principal = principal
    return principal
