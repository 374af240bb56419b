"""The upstream client and the streaming forwarder.

One long-lived upstream client per process (created in the app's lifespan), with bounded connections per upstream.
Whatever the library, the proxy must not keep a cookie jar (cookies of one user must never ride along with another
user's request), follow redirects or add default headers. Four clients, chosen by UPSTREAM_TRANSPORT (the httpx
ones are used through httpx's public transport API, `handle_async_request`, which bypasses the client-level cookie
jar and default headers):

- `native` (default, chosen by the bench/gateway.py numbers): gateway.fastclient, pooled HTTP/1.1 on asyncio
  protocols + httptools (see its docstring for why);
- `aiohttp`: aiohttp's ClientSession used directly;
- `httpx-aiohttp`: httpx requests over httpx-aiohttp's AiohttpTransport (over the same kind of aiohttp session).
  Caveat: that transport hands aiohttp `str(url)`, which yarl re-normalises (`%2F` in a query becomes `/`), so
  paths/queries are not forwarded byte for byte;
- `httpx`: httpx's own AsyncHTTPTransport (httpcore pool).
The aiohttp session is built here to switch off what a proxy must not do: a cookie jar (DummyCookieJar) and
auto-added Accept-Encoding/Content-Type/User-Agent headers (a client that did not ask for gzip must not get it).

Request and response bodies are streamed in both directions, never read whole.
"""
from __future__ import annotations

import asyncio
import logging
import tempfile

try:
    import yarl
except ImportError:  # only the aiohttp transports need it
    yarl = None

import httpx

from .settings import Settings

log = logging.getLogger("gateway.proxy")

# RFC 9110 §7.6.1 hop-by-hop headers (plus `host`, which the client sets for the upstream, and proxy-connection).
HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"proxy-connection", b"te",
    b"trailer", b"transfer-encoding", b"upgrade", b"host",
})
# Headers the gateway sets itself from what it verified/observed; a client's values never pass.
SET_BY_GATEWAY = frozenset({b"x-request-id", b"forwarded", b"x-real-ip", b"x-tenant-id", b"x-user-id",
                            b"traceparent"})
# Identity-looking headers a client might use to impersonate: stripped by prefix.
IDENTITY_PREFIXES = (b"x-tenant", b"x-user", b"x-principal", b"x-forwarded-", b"x-remote-user", b"remote-user",
                     b"x-auth-", b"x-roles", b"x-service-")
# uvicorn sets its own date/server; the gateway sets x-request-id (the upstream echoes the id it was given anyway)
# and the security headers (one value each, the gateway's).
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY")]
RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server", b"x-request-id"} | {name for name, _ in SECURITY_HEADERS}
# What a 304 keeps of the 200 it stands for (RFC 9110 §15.4.5).
NOT_MODIFIED_KEEP = frozenset({b"etag", b"cache-control", b"content-location", b"expires", b"vary", b"last-modified"})


class BodyTooLarge(Exception):
    pass


class ClientDisconnected(Exception):
    pass


class UpstreamError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _connection_tokens(values) -> set[bytes]:
    """Header names listed in Connection header values: hop-by-hop for this connection only (RFC 9110 §7.6.1)."""
    return {t.strip().lower() for value in values for t in value.split(b",") if t.strip()}


MAX_HEADER_COUNT = 90  # gunicorn refuses more than 100 header lines (with its HTML page); the gateway adds a few


class RequestHead:
    """What the gateway needs from the client's request headers, read in one pass (this runs on every request)."""

    __slots__ = ("forward", "authorization", "content_length", "has_body", "chunked", "host", "forwarded_for",
                 "forwarded_proto", "forwarded_host", "forwarded_prefix", "if_none_match", "too_long",
                 "content_type", "traceparent")

    def __init__(self, scope_headers, max_header_bytes: int = 8000):
        forward: list[tuple[bytes, bytes]] = []
        authorization = content_length = host = None
        forwarded_for = None
        self.forwarded_proto = self.forwarded_host = self.forwarded_prefix = self.if_none_match = None
        self.content_type = self.traceparent = None
        chunked = False
        too_long = len(scope_headers) > MAX_HEADER_COUNT
        connection: list[bytes] = []
        for item in scope_headers:
            name = item[0]
            if len(item[1]) + len(name) > max_header_bytes:  # the line, as gunicorn counts it (8190 there)
                too_long = True
            if name in _REQUEST_DROP:
                if name == b"host":
                    host = item[1]
                elif name == b"traceparent":
                    self.traceparent = item[1]
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"connection":
                    connection.append(item[1])
                continue
            if name == b"authorization":
                authorization = item[1]
            elif name == b"content-length":
                content_length = item[1]
            elif name == b"content-type":
                self.content_type = item[1]
            elif name == b"if-none-match":
                self.if_none_match = item[1]
            elif name.startswith(IDENTITY_PREFIXES):
                # Never forwarded as sent; read only so a trusted proxy's values can be believed (forwarded.py).
                if name == b"x-forwarded-for":
                    forwarded_for = (forwarded_for or []) + [item[1]]
                elif name == b"x-forwarded-proto":
                    self.forwarded_proto = item[1]
                elif name == b"x-forwarded-host":
                    self.forwarded_host = item[1]
                elif name == b"x-forwarded-prefix":
                    self.forwarded_prefix = item[1]
                continue
            forward.append(item)
        if connection:
            tokens = _connection_tokens(connection)
            forward = [item for item in forward if item[0] not in tokens]
        self.forward, self.authorization, self.content_length = forward, authorization, content_length
        self.host, self.chunked, self.forwarded_for, self.too_long = host, chunked, forwarded_for, too_long
        self.has_body = chunked or (content_length is not None and content_length.strip() not in (b"0", b""))

    def upstream_headers(self, *, origin, request_id: str, tenant_id: str | None,
                         user_id: str | None, traceparent: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """The forwardable headers plus the ones only the gateway may set: the real client and the public URL it
        used (services build their links from X-Forwarded-Proto/-Host/-Prefix)."""
        out = self.forward + [(b"x-request-id", request_id.encode()), (b"x-forwarded-for", origin.client_ip.encode()),
                              (b"x-forwarded-proto", origin.proto)]
        if origin.host is not None:
            out.append((b"x-forwarded-host", origin.host))
        if origin.prefix:
            out.append((b"x-forwarded-prefix", origin.prefix))
        if traceparent is not None:
            out.append((b"traceparent", traceparent))
        if tenant_id:
            out.append((b"x-tenant-id", tenant_id.encode()))
        if user_id:
            out.append((b"x-user-id", user_id.encode()))
        return out


_REQUEST_DROP = HOP_BY_HOP | SET_BY_GATEWAY


def response_headers(raw, own=frozenset()) -> list[tuple[bytes, bytes]]:
    out = []
    connection = None
    for name, value in raw:
        name = name.lower()
        if name in RESPONSE_DROP or name in own:
            if name == b"connection":
                connection = (connection or []) + [value]
            continue
        out.append((name, value))
    if connection:
        tokens = _connection_tokens(connection)
        out = [item for item in out if item[0] not in tokens]
    return out


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/ prefixes are ignored; `*` matches any."""
    value = if_none_match.strip()
    if value == b"*":
        return True
    tag = etag.strip().removeprefix(b"W/")
    return any(t.strip().removeprefix(b"W/") == tag for t in value.split(b","))


def _is_timeout(exc: BaseException) -> bool:
    """Timeout vs. connection failure. httpx-aiohttp maps every aiohttp connection error to httpx.ConnectTimeout, so
    the underlying (non-httpx) cause decides when there is one."""
    import httpcore

    chain, seen = [], exc
    for _ in range(10):
        if seen is None:
            break
        if not isinstance(seen, httpx.HTTPError):
            chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if chain:
        return any(isinstance(c, (TimeoutError, httpcore.TimeoutException)) for c in chain)
    return isinstance(exc, httpx.TimeoutException)


class _Response:
    """What the forwarder needs from an upstream response, whatever the client library."""

    __slots__ = ("status", "raw_headers", "chunks", "aclose", "whole")

    def __init__(self, status, raw_headers, chunks, aclose, whole: bytes | None = None):
        self.status, self.raw_headers, self.chunks, self.aclose = status, raw_headers, chunks, aclose
        self.whole = whole  # the entire body, when it had already arrived with the headers (most API answers)


class _HttpxBackend:
    """httpx requests over an httpx transport: httpx's own pool ("httpx") or httpx-aiohttp ("httpx-aiohttp")."""

    def __init__(self, settings: Settings, use_aiohttp: bool):
        s = settings
        c, r = s.upstream_connect_timeout_s, s.upstream_timeout_s
        self.timeout = {"connect": c, "read": r, "write": r, "pool": c}
        limits = httpx.Limits(max_connections=s.upstream_max_connections,
                              max_keepalive_connections=s.upstream_max_connections,
                              keepalive_expiry=s.upstream_keepalive_s)
        if use_aiohttp:
            from httpx_aiohttp import AiohttpTransport

            self.transport = AiohttpTransport(client=_aiohttp_session(s), limits=limits)
        else:
            self.transport = httpx.AsyncHTTPTransport(limits=limits, retries=0)

    async def request(self, method, base_url, target, headers, body) -> _Response:
        url = base_url + target.decode("latin-1")
        request = httpx.Request(method, url, headers=headers, content=body, extensions={"timeout": self.timeout})
        response = await self.transport.handle_async_request(request)
        return _Response(response.status_code, response.headers.raw, response.stream, response.aclose)

    async def aclose(self) -> None:
        await self.transport.aclose()


def _aiohttp_session(s: Settings):
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=s.upstream_max_connections, limit_per_host=0,
                                       keepalive_timeout=s.upstream_keepalive_s, ttl_dns_cache=60),
        cookie_jar=aiohttp.DummyCookieJar(),  # one user's cookies must never ride along with another's request
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=None, connect=s.upstream_connect_timeout_s,
                                      sock_connect=s.upstream_connect_timeout_s, sock_read=s.upstream_timeout_s),
    )


class _AiohttpBackend:
    """aiohttp's client used directly (no httpx request/response models in between)."""

    def __init__(self, settings: Settings):
        self.session = _aiohttp_session(settings)

    async def request(self, method, base_url, target, headers, body) -> _Response:
        # encoded=True: forward the path and query byte for byte (yarl would otherwise normalise %2F and friends)
        url = yarl.URL(base_url + target.decode("latin-1"), encoded=True)
        response = await self.session.request(
            method, url, headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers], data=body,
            allow_redirects=False)
        done = False

        async def chunks():
            nonlocal done
            async for chunk in response.content.iter_any():
                yield chunk
            done = True

        async def aclose():
            if done:
                response.release()  # body read to the end: the connection goes back to the pool
            else:
                response.close()  # aborted mid-body: the connection cannot be reused

        return _Response(response.status, response.raw_headers, chunks(), aclose)

    async def aclose(self) -> None:
        await self.session.close()


async def _nothing() -> None:
    return None


class _NativeBackend:
    """gateway.fastclient: pooled keep-alive HTTP/1.1 on asyncio protocols + httptools."""

    def __init__(self, settings: Settings):
        from .fastclient import NativeClient

        self.read_timeout = settings.upstream_timeout_s
        self.client = NativeClient(settings.upstream_max_connections, settings.upstream_keepalive_s,
                                   settings.upstream_connect_timeout_s, settings.upstream_timeout_s)

    async def request(self, method, base_url, target, headers, body) -> _Response:
        pool = self.client.pool(base_url)
        conn = await pool.request(method, target, headers, body)
        head = method == "HEAD"
        if head:
            conn.complete = True  # no body follows; the parser cannot know, so this connection is not reused
        elif conn.complete and conn.keep_alive and conn.error is None:
            # The whole answer came with the headers: hand it over in one piece and free the connection now.
            whole = b"".join(conn.body)
            status, raw_headers = conn.status, conn.headers
            pool.release(conn, reusable=True)
            return _Response(status, raw_headers, None, _nothing, whole)
        read_timeout = self.read_timeout

        async def chunks():
            while True:
                chunk = await conn.next_chunk(read_timeout)
                if chunk is None:
                    return
                yield chunk

        async def aclose():
            pool.release(conn, reusable=conn.complete and conn.keep_alive and not head and conn.error is None)

        return _Response(conn.status, conn.headers, chunks(), aclose)

    async def aclose(self) -> None:
        await self.client.aclose()


TRANSPORTS = ("native", "aiohttp", "httpx-aiohttp", "httpx")


async def _spool(body):
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    size = 0
    try:
        async for chunk in body:
            spool.write(chunk)
            size += len(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, size


async def _from_spool(spool, block: int = 64 * 1024):
    try:
        while chunk := spool.read(block):
            yield chunk
    finally:
        spool.close()


class Upstream:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.kind = settings.upstream_transport
        self.backend = None

    async def start(self) -> None:
        if self.kind == "native":
            self.backend = _NativeBackend(self.settings)
        elif self.kind == "aiohttp":
            self.backend = _AiohttpBackend(self.settings)
        else:
            self.backend = _HttpxBackend(self.settings, use_aiohttp=self.kind == "httpx-aiohttp")

    async def aclose(self) -> None:
        if self.backend is not None:
            await self.backend.aclose()

    async def forward(self, scope, receive, send, *, service: str, base_url: str, headers, max_body: int,
                      extra_response_headers, has_body: bool, chunked: bool, if_none_match: bytes | None = None
                      ) -> int:
        """Stream the request to `service` and its response back; returns the status sent.

        Raises BodyTooLarge / UpstreamError before the response has started (the caller answers with a problem);
        after the response has started a failure can only abort the connection.
        """
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
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

        request_body = body() if has_body else None
        if chunked and self.settings.chunked_request_bodies == "spool":
            # Upstreams that need a length (Django reads nothing without Content-Length): the chunked body goes to
            # a temporary file (memory up to 1 MiB, then disk; the size limit applies while reading), then is
            # streamed from there with a Content-Length. Memory stays bounded either way.
            spool, size = await _spool(request_body)
            headers = headers + [(b"content-length", str(size).encode())]
            request_body = _from_spool(spool) if size else None
        try:
            response = await self.backend.request(scope["method"], base_url, target, headers, request_body)
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

        # the gateway's own values win (Cache-Control: no-store on token answers); Vary values add up
        own = {name for name, _ in extra_response_headers if name != b"vary"}
        if if_none_match is not None and response.status == 200 and scope["method"] in ("GET", "HEAD"):
            etag = next((v for k, v in response.raw_headers if k.lower() == b"etag"), None)
            if etag is not None and etag_matches(if_none_match, etag):
                # The client has this version: 304 without reading (or sending) the body.
                await response.aclose()
                kept = [(k.lower(), v) for k, v in response.raw_headers if k.lower() in NOT_MODIFIED_KEEP]
                await send({"type": "http.response.start", "status": 304, "headers": kept + extra_response_headers})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return 304
        if response.whole is not None:
            await send({"type": "http.response.start", "status": response.status,
                        "headers": response_headers(response.raw_headers, own) + extra_response_headers})
            await send({"type": "http.response.body", "body": response.whole, "more_body": False})
            return response.status
        try:
            await send({"type": "http.response.start", "status": response.status,
                        "headers": response_headers(response.raw_headers, own) + extra_response_headers})
            pending = None
            async for chunk in response.chunks:
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
        return response.status
