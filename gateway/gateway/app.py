"""The gateway application: `create_app()` (module-level `app` for `uvicorn gateway.app:app`).

Request path (outermost first): the kit's RequestIdMiddleware (X-Request-ID made or passed on, echoed) → CORS
(allow-list; preflights answered before any token check) → GatewayMiddleware (token check, rate limits, body limit,
routing and streaming proxy) → FastAPI's own routes (/healthz, /readyz, /api/openapi.json, /api/docs; anything else
is a 404 problem). The proxy path is pure ASGI: no FastAPI/Starlette routing or middleware stack per request.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import random
import re
import time

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from servicekit import fastapi as kit_fastapi
from servicekit import health, requestid, tracing
from servicekit.jwt import AUTH_UNAVAILABLE_RETRY_S, AuthUnavailable, InvalidToken, load_jwks_document
from servicekit.problems import PROBLEM_CONTENT_TYPE, problem
from starlette.middleware.cors import CORSMiddleware

from . import observe, routes
from .accesslog import AccessLog
from .apikeys import ApiKeys, is_api_key
from .auth import WWW_AUTHENTICATE, Authenticator
from .console import Console
from .forwarded import TrustedProxies
from .openapi import DOCS_CSP, OpenAPIAggregator, docs_html, dumps
from .proxy import SECURITY_HEADERS, BodyTooLarge, ClientDisconnected, RequestHead, Upstream, UpstreamError
from .ratelimit import make_limiter
from .settings import Settings

log = logging.getLogger("gateway")
VARY_ORIGIN = (b"vary", b"Origin")
NO_STORE = (b"cache-control", b"no-store")
_TRACEPARENT = re.compile(rb"^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
_HEX32 = re.compile(r"^(?!0{32})[0-9a-f]{32}$")


def traceparent_for(incoming: bytes | None, request_id: str) -> bytes:
    """W3C trace context: the caller's `traceparent` when well formed, else a new trace (its id is the request id
    when that is 32 hex digits, so one id finds both)."""
    if incoming is not None and _TRACEPARENT.match(incoming.strip().lower()):
        return incoming.strip().lower()
    trace = request_id if _HEX32.match(request_id) else f"{random.getrandbits(128):032x}"
    return f"00-{trace}-{random.getrandbits(64) | 1:016x}-01".encode()


def stores_nothing(path: str) -> bool:
    """Answers that carry tokens or secrets (login, refresh, service tokens, SSO, accepted invitations, new API
    keys): `Cache-Control: no-store`."""
    return path.startswith("/api/v1/auth/") or path.startswith("/api/v1/tenants/current/api-keys")


class Gateway:
    """Per-process state: settings, the verifier, the limiter, the upstream client, the docs aggregator."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.auth = Authenticator(settings)
        self.api_keys = ApiKeys(settings)
        self.limiter = make_limiter(settings)
        self.upstream = Upstream(settings)
        self.openapi = OpenAPIAggregator(settings)
        self.console = Console(settings.web_dir)
        self.access_log = AccessLog() if settings.access_log else None
        self.metrics = observe.GatewayMetrics()
        self.auth.metrics = self.metrics
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        await self.upstream.start()
        observe.watch_pools(self.upstream, self.settings.service_urls)
        await self.auth.start()  # identity down at start is fine: keys are fetched again on first use
        self._tasks.append(asyncio.create_task(self.auth.jwks.run_periodic_refresh()))
        self._tasks.append(asyncio.create_task(self.openapi.keep_shapes_fresh()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self.access_log is not None:
            self.access_log.flush()
        await self.upstream.aclose()
        await self.limiter.aclose()
        await self.auth.jwks.aclose()
        await self.api_keys.aclose()


async def send_problem(send, status: int, slug: str, detail: str, headers=(), **extra) -> int:
    body = json.dumps(problem(status, slug, detail, **extra)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
    return status


def _echo(scope) -> tuple[bytes, bytes]:
    return (b"x-request-id", scope["state"]["request_id"].encode())


class GatewayMiddleware:
    def __init__(self, app, gateway: Gateway):
        self.app, self.gw = app, gateway
        s = gateway.settings
        self.limits = (s.rate_limit_ip, s.rate_limit_login_ip, s.rate_limit_user, s.rate_limit_tenant)
        self.max_body, self.max_json = s.max_body_bytes, s.max_json_body_bytes
        self.urls = s.service_urls
        self.access = gateway.access_log
        self.trusted = TrustedProxies(s.trusted_proxies)
        self.window = s.rate_limit_window_s
        self.max_url, self.max_header = s.max_url_bytes, s.max_header_bytes
        self.metrics = gateway.metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if path in routes.HEALTH_PATHS:
            return await self.app(self._with_request_id(scope), receive, send)  # the kit adds the security headers
        if self.gw.console.serves(method, path):  # the web console's static files: public, no token, no rate limit
            status = await self.gw.console(scope, receive, send, scope["state"]["request_id"])
            if self.access is not None:
                self.access.log(method, path, status, 0.0, scope["state"]["request_id"], None)
            return
        started = time.perf_counter()
        status, principal = 0, None
        measured = self.metrics
        measured.in_flight.inc()
        state = scope.setdefault("state", {})
        try:
            status, principal = await self.handle(scope, receive, send, path, method)
        except Exception:
            log.exception("gateway failure on %s %s", method, path)
            status = 500
            # Possible only while the response has not started; otherwise this send raises and the server cuts
            # the connection, which is all that can be done mid-body.
            await send_problem(send, 500, "internal-error", "The gateway failed; the request id names it in our logs.",
                               [_echo(scope), *SECURITY_HEADERS])
        finally:
            elapsed = time.perf_counter() - started
            measured.in_flight.dec()
            measured.requests.observe(measured.route(path), method, status, elapsed)
            span = state.get("span")
            if span is not None:
                tracing.set_status(span, status)
                span.end()
            if self.access is not None:
                self.access.log(method, path, status, round(elapsed * 1000, 2), state.get("request_id"),
                                principal.tenant_id if principal else None, state.get("trace_id"))

    @staticmethod
    def _with_request_id(scope):
        rid = scope.get("state", {}).get("request_id")
        if rid:
            scope["headers"] = [h for h in scope["headers"] if h[0] != b"x-request-id"] + [
                (b"x-request-id", rid.encode())]
        return scope

    async def handle(self, scope, receive, send, path, method):
        if len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > self.max_url:
            return await send_problem(send, 414, "uri-too-long",
                                      f"The URL exceeds {self.max_url} bytes; send long input in a body.",
                                      [_echo(scope), *SECURITY_HEADERS]), None
        if routes.is_suspicious(path):
            return await send_problem(send, 400, "bad-request", "The path is not in normal form.",
                                      [_echo(scope), *SECURITY_HEADERS]), None
        head = RequestHead(scope["headers"], self.max_header)
        state = scope["state"]
        rid = state["request_id"]
        # the trace goes on from the client's traceparent (or starts here); its id names the access line, and the
        # log lines of this request (bound below)
        if tracing.enabled():
            state["span"] = tracing.start_span(f"{method} {self.metrics.route(path)}", "server",
                                               traceparent=head.traceparent.decode("latin-1") if head.traceparent
                                               else None, attributes={"http.request.method": method,
                                                                      "url.path": path})
            traceparent = tracing.header_of(state["span"]).encode()
        else:
            traceparent = traceparent_for(head.traceparent, rid)
        state["traceparent"], state["trace_id"] = traceparent, traceparent[3:35].decode()
        trace_token = requestid.bind_trace(state["trace_id"])
        try:
            return await self._handle(scope, receive, send, path, method, head, state)
        finally:
            requestid.unbind_trace(trace_token)

    async def _handle(self, scope, receive, send, path, method, head, state):
        if head.too_long:
            return await send_problem(send, 431, "header-too-large",
                                      f"A request header exceeds {self.max_header} bytes, or there are too many.",
                                      [_echo(scope), *SECURITY_HEADERS]), None
        public = routes.is_public(method, path)
        principal, auth_error, auth_unavailable = None, None, False
        if not public:
            authorization = head.authorization
            try:
                if is_api_key(authorization):  # exchanged for an access token that replaces it upstream
                    authorization = await self.gw.api_keys.swap(head, authorization)
                principal = await self.gw.auth.authenticate(authorization.decode("latin-1") if authorization else None)
            except AuthUnavailable as exc:
                auth_error, auth_unavailable = exc.detail, True
            except InvalidToken as exc:
                auth_error = exc.reason

        # One limiter call for every limit that applies (IP always, login per IP, user and tenant when known).
        # Counted before the 401 so that floods of bad tokens are limited per IP too.
        client = scope.get("client")
        origin = self.trusted.resolve(client[0] if client else "unknown", scope.get("scheme", "http"), head)
        ip = origin.client_ip
        ip_limit, login_limit, user_limit, tenant_limit = self.limits
        limits = []  # (scope, ident, limit) tuples, see ratelimit.Limit
        if ip_limit > 0:
            limits.append(("ip", ip, ip_limit))
        if login_limit > 0 and routes.is_login(method, path):
            limits.append(("login", ip, login_limit))
        if principal is not None:
            if user_limit > 0:
                limits.append(("user", principal.user_id, user_limit))
            if tenant_limit > 0 and principal.tenant_id:
                limits.append(("tenant", principal.tenant_id, tenant_limit))
        decision = await self.gw.limiter.hit(limits)
        rate_headers = decision.headers(self.window)
        if "vo2.cors" not in scope:  # the CORS layer adds it otherwise; answers differ by Origin, caches must know
            rate_headers.append(VARY_ORIGIN)
        rate_headers += SECURITY_HEADERS
        if stores_nothing(path):
            rate_headers.append(NO_STORE)
        own_headers = rate_headers + [_echo(scope)]  # on answers the gateway makes or forwards itself
        if not decision.allowed:
            self.metrics.rate_limited(decision.scope or "unknown")
            return await send_problem(send, 429, "rate-limited",
                                      f"Too many requests ({decision.scope} limit); retry in {decision.reset} s.",
                                      own_headers), principal
        if auth_unavailable:  # the credential may be fine: the client retries, it does not log its user out
            return await send_problem(send, 503, "auth-unavailable", auth_error,
                                      [(b"retry-after", str(AUTH_UNAVAILABLE_RETRY_S).encode()), *own_headers]), None
        if auth_error is not None:
            return await send_problem(send, 401, "not-authenticated", auth_error,
                                      [(b"www-authenticate", WWW_AUTHENTICATE.encode()), *own_headers]), None

        service = routes.service_for(path)
        if service is None:  # the gateway's own routes, or a 404 problem from FastAPI
            seen = {}

            async def send_with_limits(message):
                if message["type"] == "http.response.start":
                    seen["status"] = message["status"]
                    headers = list(message.get("headers", []))  # the id is on it, and the kit's security headers
                    names = {name for name, _ in headers}
                    message["headers"] = headers + [h for h in rate_headers if h[0] not in names]
                await send(message)
            await self.app(self._with_request_id(scope), receive, send_with_limits)
            return seen.get("status", 0), principal

        canonical = self.gw.openapi.shapes.canonical(path)
        if canonical != path:  # one trailing-slash rule: the documented form is forwarded (PathShapes)
            raw = scope.get("raw_path") or path.encode()
            scope["raw_path"] = raw + b"/" if canonical.endswith("/") else raw[:-1]
            scope["path"] = canonical
        # JSON bodies have the services' smaller limit (MAX_JSON_BODY_BYTES, the kit's too): refused here, before
        # megabytes travel to a service that would refuse them anyway. Uploads (multipart) keep MAX_BODY_BYTES.
        content_type = head.content_type
        max_body = self.max_json if content_type is not None and b"json" in content_type.lower() else self.max_body
        length = head.content_length
        if length is not None:
            try:
                too_large = int(length) > max_body
            except ValueError:
                return await send_problem(send, 400, "bad-request", "Content-Length is not a number.",
                                          own_headers), principal
            if too_large:
                return await send_problem(send, 413, "payload-too-large",
                                          f"The request body exceeds {max_body} bytes.",
                                          [(b"connection", b"close"), *own_headers]), principal
        rid = state["request_id"]
        traceparent = state["traceparent"]
        call = None
        if "span" in state:  # recording: the service's parent is a client span of this call
            call = tracing.start_span(f"{method} {service}", "client", parent=state["span"],
                                      attributes={"server.address": service, "http.request.method": method})
            traceparent = tracing.header_of(call).encode()
        headers = head.upstream_headers(
            origin=origin, request_id=rid, traceparent=traceparent,
            tenant_id=principal.tenant_id if principal else None,
            user_id=principal.user_id if principal else None)
        forwarded = time.perf_counter()
        status = 0
        try:
            status = await self.gw.upstream.forward(
                scope, receive, send, service=service, base_url=self.urls[service], headers=headers,
                max_body=max_body, extra_response_headers=own_headers, has_body=head.has_body,
                chunked=head.chunked, if_none_match=head.if_none_match)
        except BodyTooLarge:
            return await send_problem(send, 413, "payload-too-large",
                                      f"The request body exceeds {max_body} bytes.",
                                      [(b"connection", b"close"), *own_headers]), principal
        except ClientDisconnected:
            return 499, principal
        except UpstreamError as exc:
            self.metrics.upstream_error(service, "timeout" if exc.status == 504 else "unavailable")
            status = exc.status
            return await send_problem(send, exc.status, "bad-gateway" if exc.status == 502 else "gateway-timeout",
                                      exc.detail, own_headers, service=service), principal
        except Exception:
            self.metrics.upstream_error(service, "aborted")  # mid-answer: the connection is cut
            raise
        finally:
            self.metrics.upstream(service, time.perf_counter() - forwarded)
            if call is not None:
                tracing.set_status(call, status or 502)
                call.end()
        return status, principal


def _with_security_headers(send):
    async def sender(message):
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {name.lower() for name, _ in headers}
            message["headers"] = headers + [h for h in SECURITY_HEADERS if h[0] not in names]
        await send(message)
    return sender


class GatewayApp:
    """The ASGI entry point. A proxied request runs through GatewayMiddleware only (a CORS request also through the
    kit's RequestIdMiddleware and Starlette's CORSMiddleware), never through FastAPI/Starlette routing; the gateway's
    own routes and the 404 problem fall through to the FastAPI app (`.fastapi`), which also runs the lifespan.
    Measured in-process: ~75 µs less per proxied request than the same layers inside FastAPI."""

    def __init__(self, fastapi_app: FastAPI, gateway: Gateway):
        settings = gateway.settings
        self.fastapi, self.gateway, self.state = fastapi_app, gateway, fastapi_app.state
        self.inner = inner = GatewayMiddleware(fastapi_app, gateway)
        # A request without Origin is not a CORS request: it skips the CORS layer (Starlette's would only add
        # `Vary: Origin`, which GatewayMiddleware adds itself), saving a send wrapper per request.
        self.stack = kit_fastapi.RequestIdMiddleware(CORSMiddleware(
            inner,
            allow_origins=settings.cors_origins,
            allow_origin_regex=settings.cors_origin_regex,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["authorization", "content-type", "idempotency-key", "x-request-id", "accept",
                           "accept-language", "if-none-match", "traceparent"],
            expose_headers=["x-request-id", "ratelimit", "ratelimit-policy", "retry-after", "content-disposition",
                            "location", "etag"],
            max_age=600,
        ))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.fastapi(scope, receive, send)  # lifespan (and websockets, which get nothing here)
        incoming = None
        for name, value in scope["headers"]:
            if name == b"origin":
                scope["vo2.cors"] = True
                # CORS preflights are answered before GatewayMiddleware: the security headers go on here too
                # (GatewayMiddleware's own answers add them already, so only when absent).
                return await self.stack(scope, receive, _with_security_headers(send))
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
        # Not a CORS request: the request id is bound here and GatewayMiddleware puts it on every answer itself,
        # which spares the kit middleware's send wrapper on the hot path.
        rid = requestid.accept_or_make(incoming)
        scope.setdefault("state", {})["request_id"] = rid
        token = requestid.bind(rid)
        try:
            await self.inner(scope, receive, send)
        finally:
            requestid.unbind(token)


def create_app(settings: Settings | None = None) -> GatewayApp:
    settings = settings or Settings.from_env()
    gateway = Gateway(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await gateway.start()
        # Everything imported and built so far lives as long as the process: keep it out of the cyclic GC's
        # full collections (FastAPI/pydantic make the heap large; a gen-2 pass over it stalls every request).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await gateway.stop()

    # FastAPI's native OpenTelemetry hook asks the OTel API (which reads os.environ) on every request even when
    # nothing is configured, so it is off here.
    api = FastAPI(title="VO2max Report gateway", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, telemetry={"tracing": False, "metrics": False, "logs": False})
    api.state.gateway = gateway

    @api.get("/api/openapi.json", include_in_schema=False)
    async def openapi_json():
        return Response(dumps(await gateway.openapi.document()), media_type="application/json")

    @api.get("/api/docs", include_in_schema=False)
    async def api_docs():
        return HTMLResponse(docs_html(await gateway.openapi.document()),
                            headers={"content-security-policy": DOCS_CSP})

    def check_jwks() -> None:  # readiness runs in a worker thread (kit run_checks), so sync I/O is fine here
        document = load_jwks_document(settings.jwks_url, timeout=2.0)
        if not document.get("keys"):
            raise RuntimeError("the JWKS holds no keys")

    readiness = {"jwks": check_jwks}
    if settings.redis_url:
        readiness["redis"] = lambda: health.check_cache(settings.redis_url)
    # /healthz, /readyz, problem+json handlers (404 for unknown paths); its RequestIdMiddleware sees the id the
    # outer one chose because GatewayMiddleware puts it into the scope headers before falling through.
    kit_fastapi.install(api, "gateway", readiness=readiness, observe=False)  # GatewayMiddleware measures
    return GatewayApp(api, gateway)


app = create_app()
