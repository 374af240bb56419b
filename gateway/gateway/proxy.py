"""The upstream client and the streaming forwarder.

One long-lived transport per process (created in the app's lifespan), used directly through httpx's public
transport API (`handle_async_request`): no client-level cookie jar (cookies of one user must never ride along with
another user's request), no redirect following, no default headers. Two transports, chosen by UPSTREAM_TRANSPORT:

- `aiohttp` (default, chosen by bench/gateway.py numbers): httpx-aiohttp's AiohttpTransport over an aiohttp
  ClientSession that we build ourselves, to switch off what a proxy must not do: a cookie jar (DummyCookieJar) and
  auto-added Accept-Encoding/Content-Type/User-Agent headers (a client that did not ask for gzip must not get it).
- `httpx`: httpx's own AsyncHTTPTransport (httpcore pool), kept for comparison.

Request and response bodies are streamed in both directions, never read whole.
"""
from __future__ import annotations

import asyncio
import logging

import httpx

from .settings import Settings

log = logging.getLogger("gateway.proxy")

# RFC 9110 §7.6.1 hop-by-hop headers (plus `host`, which httpx sets for the upstream, and legacy proxy-connection).
HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"proxy-connection", b"te",
    b"trailer", b"transfer-encoding", b"upgrade", b"host",
})
# Headers the gateway sets itself from what it verified/observed; a client's values never pass.
SET_BY_GATEWAY = frozenset({b"x-request-id", b"forwarded", b"x-real-ip", b"x-tenant-id", b"x-user-id"})
# Identity-looking headers a client might use to impersonate: stripped by prefix.
IDENTITY_PREFIXES = (b"x-tenant", b"x-user", b"x-principal", b"x-forwarded-", b"x-remote-user", b"remote-user",
                     b"x-auth-", b"x-roles", b"x-service-")
RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server"}  # uvicorn sets its own date/server


class BodyTooLarge(Exception):
    pass


class ClientDisconnected(Exception):
    pass


class UpstreamError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _connection_tokens(headers) -> set[bytes]:
    tokens: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return tokens


def upstream_request_headers(scope_headers, *, client_ip: str, scheme: str, request_id: str, tenant_id: str | None,
                             user_id: str | None) -> list[tuple[bytes, bytes]]:
    """Inbound headers minus hop-by-hop and identity headers, plus the ones only the gateway may set."""
    extra_hop = _connection_tokens(scope_headers)
    out: list[tuple[bytes, bytes]] = []
    host = None
    for name, value in scope_headers:
        if name in HOP_BY_HOP:
            if name == b"host":
                host = value
            continue
        if name in SET_BY_GATEWAY or name.startswith(IDENTITY_PREFIXES) or (extra_hop and name in extra_hop):
            continue
        out.append((name, value))
    out.append((b"x-request-id", request_id.encode()))
    out.append((b"x-forwarded-for", client_ip.encode()))
    out.append((b"x-forwarded-proto", scheme.encode()))
    if host is not None:
        out.append((b"x-forwarded-host", host))
    if tenant_id:
        out.append((b"x-tenant-id", tenant_id.encode()))
    if user_id:
        out.append((b"x-user-id", user_id.encode()))
    return out


def response_headers(raw) -> list[tuple[bytes, bytes]]:
    extra_hop = _connection_tokens((n.lower(), v) for n, v in raw)
    out = []
    for name, value in raw:
        name = name.lower()
        if name in RESPONSE_DROP or (extra_hop and name in extra_hop):
            continue
        out.append((name, value))
    return out


def _is_timeout(exc: BaseException) -> bool:
    """Timeout vs. connection failure. httpx-aiohttp maps every aiohttp connection error to httpx.ConnectTimeout, so
    the underlying (non-httpx) cause decides when there is one."""
    import httpcore

    causes, seen = [], exc
    for _ in range(10):
        seen = seen.__cause__ or seen.__context__
        if seen is None:
            break
        if not isinstance(seen, httpx.HTTPError):
            causes.append(seen)
    if causes:
        return any(isinstance(c, (TimeoutError, httpcore.TimeoutException)) for c in causes)
    return isinstance(exc, (httpx.TimeoutException, TimeoutError))


class Upstream:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.kind = settings.upstream_transport
        c, r = settings.upstream_connect_timeout_s, settings.upstream_timeout_s
        self.timeout = {"connect": c, "read": r, "write": r, "pool": c}
        self.transport: httpx.AsyncBaseTransport | None = None

    async def start(self) -> None:
        s = self.settings
        limits = httpx.Limits(max_connections=s.upstream_max_connections,
                              max_keepalive_connections=s.upstream_max_connections,
                              keepalive_expiry=s.upstream_keepalive_s)
        if self.kind == "aiohttp":
            import aiohttp
            from httpx_aiohttp import AiohttpTransport

            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=s.upstream_max_connections, limit_per_host=0,
                                               keepalive_timeout=s.upstream_keepalive_s, ttl_dns_cache=60),
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                auto_decompress=False,
            )
            self.transport = AiohttpTransport(client=session, limits=limits)
        else:
            self.transport = httpx.AsyncHTTPTransport(limits=limits, retries=0)

    async def aclose(self) -> None:
        if self.transport is not None:
            await self.transport.aclose()

    async def forward(self, scope, receive, send, *, service: str, base_url: str, headers, max_body: int,
                      extra_response_headers) -> int:
        """Stream the request to `service` and its response back; returns the status sent.

        Raises BodyTooLarge / UpstreamError before the response has started (the caller answers with a problem);
        after the response has started a failure can only abort the connection.
        """
        raw_path = scope.get("raw_path") or scope["path"].encode()
        url = base_url + raw_path.decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                has_body = value.strip() not in (b"0", b"")
                break
            if name == b"transfer-encoding":
                has_body = True
                break
        state = {"too_large": False, "disconnected": False}

        async def body():
            received = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    state["disconnected"] = True
                    raise ClientDisconnected()
                chunk = message.get("body", b"")
                if chunk:
                    received += len(chunk)
                    if received > max_body:
                        state["too_large"] = True
                        raise BodyTooLarge()
                    yield chunk
                if not message.get("more_body", False):
                    return

        request = httpx.Request(scope["method"], url, headers=headers, content=body() if has_body else None,
                                extensions={"timeout": self.timeout})
        try:
            response = await self.transport.handle_async_request(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if state["too_large"]:
                raise BodyTooLarge() from exc
            if state["disconnected"]:
                raise ClientDisconnected() from exc
            timeout = _is_timeout(exc)
            log.warning("upstream %s %s: %s: %s", service, "timed out" if timeout else "failed",
                        type(exc).__name__, exc)
            if timeout:
                raise UpstreamError(504, f"The {service} service did not answer in time.") from exc
            raise UpstreamError(502, f"The {service} service is unavailable.") from exc

        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": response_headers(response.headers.raw) + extra_response_headers})
            pending = None
            async for chunk in response.stream:
                if not chunk:
                    continue
                if pending is not None:
                    await send({"type": "http.response.body", "body": pending, "more_body": True})
                pending = chunk
            await send({"type": "http.response.body", "body": pending or b"", "more_body": False})
        except Exception as exc:  # headers already sent: all we can do is cut the connection
            log.warning("upstream %s response aborted: %s: %s", service, type(exc).__name__, exc)
            raise
        finally:
            await response.aclose()
        return response.status_code
