"""Unit tests: the native upstream client against raw sockets, the limiter's arithmetic, the OpenAPI merge."""
from __future__ import annotations

import asyncio
import json
import ipaddress

import pytest

from gateway import ratelimit
from gateway.fastclient import NativeClient, UpstreamConnectError, UpstreamTimeout, _Slots
from gateway.forwarded import TrustedProxies
from gateway.proxy import RequestHead, response_headers
from gateway.openapi import merge


def run(coro):
    return asyncio.run(coro)


async def _server(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def _read_request(reader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def _fetch(client: NativeClient, base: str, method="GET", body=None, headers=()):
    pool = client.pool(base)
    conn = await pool.request(method, b"/x", list(headers), body)
    chunks = []
    if method != "HEAD":
        while (chunk := await conn.next_chunk(5)) is not None:
            chunks.append(chunk)
    else:
        conn.complete = True
    status, headers = conn.status, dict((k.lower(), v) for k, v in conn.headers)
    pool.release(conn, reusable=conn.complete and conn.keep_alive and method != "HEAD")
    return status, headers, b"".join(chunks)


def test_body_delimited_by_connection_close():
    async def main():
        async def handler(reader, writer):
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil-eof-body")
            await writer.drain()
            writer.close()
        server, base = await _server(handler)
        client = NativeClient(4, 4, 2, 2)
        try:
            return await _fetch(client, base)
        finally:
            await client.aclose()
            server.close()
    status, headers, body = run(main())
    assert status == 200 and body == b"until-eof-body"


def test_chunked_response_and_connection_reuse():
    connections = []

    async def main():
        async def handler(reader, writer):
            connections.append(writer)
            for _ in range(2):
                await _read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                await writer.drain()
            writer.close()
        server, base = await _server(handler)
        client = NativeClient(4, 4, 2, 2)
        try:
            return [await _fetch(client, base) for _ in range(2)]
        finally:
            await client.aclose()
            server.close()
    results = run(main())
    assert [r[2] for r in results] == [b"hello world", b"hello world"]
    assert len(connections) == 1  # the second request reused the kept-alive connection


def test_idle_connection_closed_by_upstream_is_retried_once_for_bodyless_requests():
    connections = []

    async def main():
        async def handler(reader, writer):
            connections.append(writer)
            await _read_request(reader)
            # keep-alive answer, then the server drops the connection without saying so
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(1), 0.05)
            except asyncio.TimeoutError:
                pass
            writer.transport.abort()
        server, base = await _server(handler)
        client = NativeClient(4, 30, 2, 2)
        try:
            first = await _fetch(client, base)
            await asyncio.sleep(0.2)
            second = await _fetch(client, base)
            return first, second
        finally:
            await client.aclose()
            server.close()
    first, second = run(main())
    assert first[2] == b"ok" and second[2] == b"ok"
    assert len(connections) == 2


def test_request_body_streams_with_content_length_or_chunked():
    received = []

    async def main():
        async def handler(reader, writer):
            while True:
                try:
                    head = await _read_request(reader)
                except asyncio.IncompleteReadError:
                    return
                if b"content-length: 10" in head:
                    received.append(await reader.readexactly(10))
                else:
                    assert b"transfer-encoding: chunked" in head
                    received.append(await reader.readuntil(b"0\r\n\r\n"))
                writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        server, base = await _server(handler)
        client = NativeClient(4, 4, 2, 2)

        async def body():
            yield b"01234"
            yield b"56789"
        try:
            a = await _fetch(client, base, "POST", body(), [(b"content-length", b"10")])
            b = await _fetch(client, base, "POST", body())
            return a, b
        finally:
            await client.aclose()
            server.close()
    a, b = run(main())
    assert a[0] == 201 and b[0] == 201
    assert received == [b"0123456789", b"5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n"]


def test_head_response_has_no_body():
    async def main():
        async def handler(reader, writer):
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")
            await writer.drain()
        server, base = await _server(handler)
        client = NativeClient(4, 4, 2, 2)
        try:
            return await _fetch(client, base, "HEAD")
        finally:
            await client.aclose()
            server.close()
    status, headers, body = run(main())
    assert status == 200 and headers[b"content-length"] == b"1234" and body == b""


def test_connect_refused_and_read_timeout():
    async def main():
        client = NativeClient(4, 4, 1, 0.3)
        from servicekit.testing import free_port
        with pytest.raises(UpstreamConnectError):
            await _fetch(client, f"http://127.0.0.1:{free_port()}")

        async def silent(reader, writer):
            await asyncio.sleep(5)
        server, base = await _server(silent)
        try:
            with pytest.raises(UpstreamTimeout):
                await _fetch(client, base)
        finally:
            server.close()
            await client.aclose()
    run(main())


def test_busy_upstream_slots_go_to_waiters_in_order_and_time_out():
    async def main():
        slots = _Slots(1)
        await slots.take(1)  # the only slot
        order = []

        async def waiter(name, timeout):
            await slots.take(timeout)
            order.append(name)

        late = asyncio.create_task(waiter("gives up", 0.05))
        first = asyncio.create_task(waiter("first", 5))
        second = asyncio.create_task(waiter("second", 5))
        await asyncio.sleep(0.2)
        with pytest.raises(UpstreamTimeout):
            await late
        slots.give()  # skips the waiter that timed out
        await first
        cancelled = asyncio.create_task(waiter("cancelled", 5))
        await asyncio.sleep(0)
        cancelled.cancel()
        slots.give()
        await second
        slots.give()
        assert order == ["first", "second"] and slots.free == 1 and not slots.waiters
    run(main())


def test_request_head_keeps_what_may_be_forwarded_and_reads_what_the_gateway_needs():
    head = RequestHead([
        (b"host", b"api.example.org"), (b"authorization", b"Bearer t"), (b"content-length", b"12"),
        (b"connection", b"keep-alive, X-Secret"), (b"x-secret", b"hop"), (b"x-tenant-id", b"spoofed"),
        (b"x-forwarded-for", b"6.6.6.6"), (b"accept", b"application/json"), (b"x-request-id", b"client")])
    assert head.authorization == b"Bearer t" and head.content_length == b"12" and head.has_body
    assert not head.chunked and head.host == b"api.example.org"
    assert head.forward == [(b"authorization", b"Bearer t"), (b"content-length", b"12"),
                            (b"accept", b"application/json")]
    untrusting = TrustedProxies(())
    origin = untrusting.resolve("10.0.0.1", "https", head)
    sent = dict(head.upstream_headers(origin=origin, request_id="r1", tenant_id="t1", user_id=None))
    assert sent[b"x-request-id"] == b"r1" and sent[b"x-tenant-id"] == b"t1" and b"x-user-id" not in sent
    assert sent[b"x-forwarded-for"] == b"10.0.0.1" and sent[b"x-forwarded-host"] == b"api.example.org"
    assert sent[b"x-forwarded-proto"] == b"https" and b"x-forwarded-prefix" not in sent
    # a trusted proxy's X-Forwarded-For names the client: the right-most hop that is not a trusted proxy
    trusting = TrustedProxies((ipaddress.ip_network("10.0.0.0/8"),))
    assert trusting.resolve("10.0.0.1", "http", head).client_ip == "6.6.6.6"
    assert trusting.resolve("192.0.2.1", "http", head).client_ip == "192.0.2.1"  # not a proxy: its peer address
    chain = RequestHead([(b"x-forwarded-for", b"1.1.1.1, 2.2.2.2"), (b"x-forwarded-for", b"10.1.1.1"),
                         (b"x-forwarded-host", b"bad host/"), (b"x-forwarded-prefix", b"/../x")])
    origin = trusting.resolve("10.0.0.1", "http", chain)
    assert origin.client_ip == "2.2.2.2" and origin.host is None and origin.prefix == b""
    garbage = RequestHead([(b"x-forwarded-for", b"not-an-ip")])
    assert trusting.resolve("10.0.0.1", "http", garbage).client_ip == "10.0.0.1"
    assert RequestHead([(b"transfer-encoding", b"chunked")]).has_body
    assert not RequestHead([(b"content-length", b"0")]).has_body


def test_response_headers_drop_hop_by_hop_and_what_the_gateway_sets():
    raw = [(b"Content-Type", b"application/json"), (b"Connection", b"close, X-Internal"), (b"X-Internal", b"1"),
           (b"Date", b"x"), (b"Server", b"y"), (b"X-Request-ID", b"r1"), (b"Set-Cookie", b"a=1")]
    assert response_headers(raw) == [(b"content-type", b"application/json"), (b"set-cookie", b"a=1")]


def test_sliding_window_limits_and_retry_after(monkeypatch):
    now = [1_000_040.0]  # 20 s into a 60 s window (windows start at multiples of 60 s)
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    limiter = ratelimit.MemoryLimiter(60)
    limits = [ratelimit.Limit("ip", "1.2.3.4", 100), ratelimit.Limit("user", "u", 3)]
    decisions = [run(limiter.hit(limits)) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[0].scope == "user" and decisions[0].limit == 3
    # 3 used in the current window: one more fits once the previous-window share of 3 has decayed below 3
    assert 60 <= decisions[3].reset <= 61  # 40 s to the window end, then a third of the next window
    now[0] += 60  # next window, 20 s in: estimate = 3 * (1 - 1/3) = 2 -> one more allowed
    assert run(limiter.hit(limits)).allowed
    assert not run(limiter.hit(limits)).allowed
    now[0] += 120  # two windows later: everything forgotten
    assert run(limiter.hit(limits)).remaining == 2


def test_openapi_merge_renames_colliding_components_and_rewrites_refs():
    a = {"openapi": "3.0.3", "paths": {"/a": {"get": {"operationId": "get", "responses": {"200": {
        "description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}}},
         "components": {"schemas": {"Item": {"type": "object", "properties": {"a": {"type": "string"}}}}}}
    b = {"openapi": "3.1.0", "paths": {"/b": {"get": {"operationId": "get", "responses": {"200": {
        "description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}}},
         "components": {"schemas": {"Item": {"type": "object", "properties": {"b": {"type": "integer"}}}}}}
    doc = merge({"svc_a": a, "svc_b": b}, {"svc_c": "ConnectError"})
    assert doc["openapi"] == "3.1.0"
    assert set(doc["components"]["schemas"]) == {"Item", "svc_b_Item", "Problem"}  # Problem: the gateway's own
    assert doc["paths"]["/b"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/svc_b_Item"
    assert doc["paths"]["/b"]["get"]["operationId"] == "svc_b_get"
    assert "svc_c" in doc["info"]["description"]


def test_merge_makes_one_31_document_with_one_security_scheme_and_one_form_per_path():
    """Issue 12 finding 5 (gateway side): two identical security schemes, `reports/settings` with and without the
    slash, and `nullable: true` (3.0) inside an `openapi: 3.1.0` document."""
    from gateway.openapi import merge, to_openapi_31

    def service_doc(scheme_name, paths):
        return {"openapi": "3.0.3", "paths": paths, "components": {
            "securitySchemes": {scheme_name: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Report": {"type": "object", "properties": {
                "file": {"type": "string", "nullable": True, "format": "uri"},
                "language": {"type": "string", "enum": ["ru", "en"], "nullable": True},
                "athlete": {"allOf": [{"$ref": "#/components/schemas/Athlete"}], "nullable": True,
                            "readOnly": True}}}}}}

    op = {"security": [{"bearer": []}], "responses": {"200": {"description": "ok"}}}
    reports = service_doc("bearer", {"/api/v1/reports/settings": {"get": {**op, "operationId": "settings_get"}},
                                     "/api/v1/reports/settings/": {"get": {**op, "operationId": "settings_get2"},
                                                                   "patch": {**op, "operationId": "settings_patch"}}})
    identity = service_doc("jwt", {"/api/v1/auth/login": {"post": {"security": [{}], "operationId": "login",
                                                                   "responses": {}}}})
    doc = merge({"reports": reports, "identity": identity}, {})
    assert doc["openapi"] == "3.1.0"
    assert list(doc["components"]["securitySchemes"]) == ["bearerAuth"]
    settings_paths = [p for p in doc["paths"] if p.startswith("/api/v1/reports/settings")]
    assert settings_paths == ["/api/v1/reports/settings"]
    assert set(doc["paths"]["/api/v1/reports/settings"]) == {"get", "patch"}
    assert doc["paths"]["/api/v1/reports/settings"]["get"]["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/api/v1/auth/login"]["post"]["security"] == [{}]
    assert "nullable" not in json.dumps(doc)
    props = doc["components"]["schemas"]["Report"]["properties"]
    assert props["file"] == {"type": ["string", "null"], "format": "uri"}
    assert props["language"] == {"type": ["string", "null"], "enum": ["ru", "en", None]}
    assert props["athlete"] == {"readOnly": True, "anyOf": [{"allOf": [{"$ref": "#/components/schemas/Athlete"}]},
                                                            {"type": "null"}]}
    assert to_openapi_31({"type": ["string", "null"]}) == {"type": ["string", "null"]}


def test_merge_documents_the_gateways_own_statuses_and_problem_bodies():
    from gateway.openapi import merge

    doc = merge({"svc": {"openapi": "3.0.3", "paths": {
        "/api/v1/things/": {"post": {"operationId": "make", "requestBody": {"content": {"application/json": {}}},
                                     "responses": {"201": {"description": "made"},
                                                   "400": {"description": "application/problem+json"}}}},
        "/api/v1/auth/login": {"post": {"operationId": "login", "security": [{}], "responses": {}}}}}}, {})
    made = doc["paths"]["/api/v1/things/"]["post"]["responses"]
    assert {"201", "400", "401", "413", "414", "429", "431", "502", "504"} <= set(made)
    assert made["400"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "content" not in made["201"]
    login = doc["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert "401" not in login and "429" in login and "413" not in login
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]


def test_a_keyless_jwks_is_fetched_again_within_a_quarter_second():
    """Identity still starting when the gateway came up: the first fetch fails; tokens must not be refused for the
    whole refetch interval (10 s by default) after identity is up."""
    import json as _json
    import tempfile
    import time as _time
    from pathlib import Path

    from gateway.auth import AsyncJWKS

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jwks.json"
        jwks = AsyncJWKS(f"file://{path}", refetch_interval=10.0, max_age=300.0)

        async def main():
            assert await jwks.refresh() is False  # nothing there yet
            path.write_text(_json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
                                                   "n": "sXch", "e": "AQAB"}]}))
            assert await jwks.refresh() is False  # throttled right after the failure...
            _time.sleep(0.3)
            await jwks.refresh()  # ...but only for a quarter second while no key is held
            assert jwks._last_attempt > 0 and _time.monotonic() - jwks._last_attempt < 0.25
            await jwks.aclose()
        run(main())
