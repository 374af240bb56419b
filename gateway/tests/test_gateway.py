"""The gateway for real: uvicorn subprocesses in front of fake upstream HTTP servers (see conftest)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
import uuid

import httpx
import pytest
import redis

from servicekit import testing
from servicekit.testing import SigningKeys

from .conftest import MAX_BODY, PREFIXES, raw_request

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["type"] == f"urn:vo2:problem:{slug}" and body["detail"]
    return body


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, payload: dict) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())


def claims(**extra) -> dict:
    now = int(time.time())
    return {"iss": "vo2max-identity", "aud": "vo2max-api", "sub": str(uuid.uuid4()), "tid": str(uuid.uuid4()),
            "roles": ["owner"], "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex, **extra}


# ------------------------------------------------------------------------------------------------ routing
ROUTE_CASES = [(prefix, service) for service, prefixes in PREFIXES.items() for prefix in prefixes]


@pytest.mark.parametrize("prefix,service", ROUTE_CASES)
def test_every_prefix_reaches_its_service_with_path_and_query_intact(gw, token, prefix, service):
    path = f"{prefix}abc/%C3%A9t%C3%A9/x.json"
    response = gw.client.get(path + "?a=1&b=%2Fslash&c=", headers=bearer(token()))
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["service"] == service
    assert seen["raw_path"] == path
    assert seen["query"] == "a=1&b=%2Fslash&c="
    assert response.headers["x-upstream"] == service


@pytest.mark.parametrize("prefix,service", ROUTE_CASES)
def test_collection_path_without_trailing_slash_is_routed(gw, token, prefix, service):
    response = gw.client.post(prefix.rstrip("/"), headers=bearer(token()), json={"x": 1})
    assert response.status_code == 200
    assert response.json()["service"] == service
    assert response.json()["method"] == "POST"
    assert response.json()["body_bytes"] == len(b'{"x":1}')


def test_jwks_is_public_and_served_by_identity(gw, keys):
    response = gw.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == keys.jwks


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                                  "/api/v1/auth/invitations/accept", "/api/v1/auth/login/",
                                  "/api/v1/auth/sso/acme/callback"])
def test_public_auth_routes_need_no_token(gw, path):
    response = gw.client.post(path, json={"username": "u"}, headers={"x-forwarded-for": f"10.9.{uuid.uuid4().int % 250}.1"})
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["service"] == "identity" and seen["path"] == path.replace("login/", "login")  # documented form
    assert "x-user-id" not in seen["headers"] and "x-tenant-id" not in seen["headers"]


def test_public_routes_are_method_specific(gw):
    assert_problem(gw.client.get("/api/v1/auth/login"), 401, "not-authenticated")
    assert_problem(gw.client.delete("/api/v1/auth/refresh"), 401, "not-authenticated")


def test_unknown_path_is_404_problem_with_token_and_401_without(gw, token):
    for path in ("/api/v1/nothing/", "/api/v2/athletes/", "/favicon.ico", "/api/v1/authx/login"):
        body = assert_problem(gw.client.get(path, headers=bearer(token())), 404, "not-found")
        assert path in body["detail"]
        assert_problem(gw.client.get(path), 401, "not-authenticated")


def test_dot_segments_cannot_turn_a_private_path_public(gw):
    for target in (b"/api/v1/auth/sso/../../tenants/1", b"/api/v1/auth/sso/%2e%2e/%2e%2e/tenants/1",
                   b"/api/v1/auth/login/..//../tenants/"):
        status, headers, body = raw_request(
            gw.port, b"POST " + target + b" HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        assert status == 400, (target, status, body)
        assert headers["content-type"].startswith(PROBLEM)


# ------------------------------------------------------------------------------------------------ tokens
def test_valid_token_passes_and_upstream_sees_token_derived_identity(gw, keys):
    sub, tid = str(uuid.uuid4()), str(uuid.uuid4())
    token = keys.token(sub=sub, tid=tid)
    response = gw.client.get("/api/v1/athletes/", headers=bearer(token))
    assert response.status_code == 200
    seen = response.json()["headers"]
    assert seen["authorization"] == [f"Bearer {token}"]  # services verify again
    assert seen["x-tenant-id"] == [tid] and seen["x-user-id"] == [sub]


def _token_matrix(keys: SigningKeys, tmp_dir) -> dict[str, str | None]:
    now = int(time.time())
    good = keys.token(tid=str(uuid.uuid4()))
    head, payload, sig = good.split(".")
    tampered_claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered_claims["tid"] = str(uuid.uuid4())
    public_pem = keys.private_key.public_key().public_bytes(
        encoding=__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM,
        format=__import__("cryptography.hazmat.primitives.serialization",
                          fromlist=["PublicFormat"]).PublicFormat.SubjectPublicKeyInfo)
    hs_input = unsigned({"alg": "HS256", "typ": "at+jwt", "kid": keys.kid}, claims())
    hs_sig = b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    other = SigningKeys(tmp_dir / f"other-{uuid.uuid4().hex[:6]}")
    return {
        "no token": None,
        "garbage": "garbage",
        "expired": keys.token(tid="t", iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not yet valid": keys.token(tid="t", nbf=now + 3600),
        "wrong aud": keys.token(tid="t", aud="someone-else"),
        "wrong iss": keys.token(tid="t", iss="https://evil.example"),
        "alg none": unsigned({"alg": "none", "typ": "at+jwt", "kid": keys.kid}, claims()) + ".",
        "HS256 with public key": f"{hs_input}.{hs_sig}",
        "unknown kid": other.token(tid="t"),
        "tampered payload": f"{head}.{b64(json.dumps(tampered_claims).encode())}.{sig}",
        "wrong typ": keys.token(tid="t", headers={"typ": "JWT"}),
    }


@pytest.mark.parametrize("case", ["no token", "garbage", "expired", "not yet valid", "wrong aud", "wrong iss",
                                  "alg none", "HS256 with public key", "unknown kid", "tampered payload",
                                  "wrong typ"])
def test_token_matrix_is_401_problem(gw, keys, tmp_dir, case):
    token = _token_matrix(keys, tmp_dir)[case]
    headers = bearer(token) if token else {}
    response = gw.client.get("/api/v1/athletes/1", headers=headers)
    assert_problem(response, 401, "not-authenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "x-upstream" not in response.headers  # never reached a service


def test_non_bearer_scheme_is_401(gw, token):
    response = gw.client.get("/api/v1/athletes/", headers={"authorization": f"Basic {token()}"})
    assert_problem(response, 401, "not-authenticated")


# ------------------------------------------------------------------------------------------------ headers
def test_spoofed_identity_headers_never_reach_upstream(gw, keys):
    sub, tid = str(uuid.uuid4()), str(uuid.uuid4())
    spoof = {
        "X-Tenant-ID": "evil-tenant", "X-User-ID": "evil-user", "X-User-Roles": "owner,operator",
        "X-Tenant": "evil", "X-Principal": "evil", "X-Principal-Roles": "operator", "X-Forwarded-User": "evil",
        "X-Remote-User": "evil", "X-Auth-Request-User": "evil", "X-Service-Token": "evil",
        "Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "must-not-pass",
        "Forwarded": "for=6.6.6.6", "X-Real-IP": "6.6.6.6",
    }
    response = gw.client.get("/api/v1/tests/", headers={**bearer(keys.token(sub=sub, tid=tid)), **spoof})
    assert response.status_code == 200
    seen = response.json()["headers"]
    assert seen["x-tenant-id"] == [tid]
    assert seen["x-user-id"] == [sub]
    for name in ("x-user-roles", "x-tenant", "x-principal", "x-principal-roles", "x-forwarded-user",
                 "x-remote-user", "x-auth-request-user", "x-service-token", "x-secret-hop", "forwarded",
                 "x-real-ip", "connection"):
        assert name not in seen, name
    assert "evil" not in json.dumps(seen)


def test_spoofed_identity_headers_are_stripped_on_public_routes_too(gw):
    response = gw.client.post("/api/v1/auth/login", json={}, headers={
        "X-Tenant-ID": "evil", "X-User-ID": "evil", "x-forwarded-for": "10.8.0.1"})
    assert response.status_code == 200
    seen = response.json()["headers"]
    assert "x-tenant-id" not in seen and "x-user-id" not in seen


def test_forwarded_headers_and_host(gw, token):
    response = gw.client.get("/api/v1/reports/", headers={**bearer(token()), "x-forwarded-for": "203.0.113.7"})
    seen = response.json()["headers"]
    # gw trusts 127.0.0.1 as a proxy (TRUSTED_PROXIES): the client it names is passed on
    assert seen["x-forwarded-for"] == ["203.0.113.7"]
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-host"] == [f"127.0.0.1:{gw.port}"]
    assert seen["host"] != [f"127.0.0.1:{gw.port}"]
    # a chain: the right-most hop that is not a trusted proxy is the client; proto/host/prefix of the proxy count
    chained = gw.client.get("/api/v1/reports/", headers={
        **bearer(token()), "x-forwarded-for": "198.51.100.1, 203.0.113.9, 127.0.0.1",
        "x-forwarded-proto": "https", "x-forwarded-host": "vo2.example.org", "x-forwarded-prefix": "/lab"}).json()
    assert chained["headers"]["x-forwarded-for"] == ["203.0.113.9"]
    assert chained["headers"]["x-forwarded-proto"] == ["https"]
    assert chained["headers"]["x-forwarded-host"] == ["vo2.example.org"]
    assert chained["headers"]["x-forwarded-prefix"] == ["/lab"]


def test_forwarding_headers_count_only_from_a_trusted_proxy(gw_untrusting, token):
    """Issue 12 finding 2: 40 logins with 40 X-Forwarded-For values all passed a limit of 30. With no trusted proxy
    (the default in every mode) the headers are ignored and the limit counts the real peer."""
    gw = gw_untrusting
    seen = gw.client.get("/api/v1/reports/", headers={
        **bearer(token()), "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https",
        "x-forwarded-host": "evil.example", "x-forwarded-prefix": "/evil"}).json()["headers"]
    assert seen["x-forwarded-for"] == ["127.0.0.1"]
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-host"] == [f"127.0.0.1:{gw.port}"] and "x-forwarded-prefix" not in seen
    statuses = [gw.client.post("/api/v1/auth/login", json={},
                               headers={"x-forwarded-for": f"10.9.{i}.{i}"}).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_upstream_cookies_are_not_shared_between_callers(gw, token):
    first = gw.client.get("/api/v1/reports/", headers=bearer(token()))
    assert first.headers["set-cookie"].startswith("upstream=1")  # passed to the client that got it
    gw.client.cookies.clear()
    second = httpx.get(gw.url + "/api/v1/reports/", headers=bearer(token()))
    assert "cookie" not in second.json()["headers"]


def test_accept_encoding_is_not_invented(gw, token):
    status, _, body = raw_request(gw.port, (
        f"GET /api/v1/athletes/ HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token()}\r\n"
        f"connection: close\r\n\r\n").encode())
    assert status == 200
    seen = json.loads(body)["headers"]
    assert "accept-encoding" not in seen and "user-agent" not in seen


def test_request_id_is_passed_through(gw, token):
    response = gw.client.get("/api/v1/analysis/x", headers={**bearer(token()), "x-request-id": "req-abc.123"})
    assert response.headers.get_list("x-request-id") == ["req-abc.123"]  # once, though the upstream echoes it too
    assert response.json()["headers"]["x-request-id"] == ["req-abc.123"]
    deadline, lines = time.monotonic() + 5, []
    while not lines and time.monotonic() < deadline:  # access lines are written in batches (<= 0.25 s)
        time.sleep(0.1)
        lines = [json.loads(line) for line in gw.log_path.read_text().splitlines()
                 if line.startswith("{") and "req-abc.123" in line]
    assert lines and lines[0]["logger"] == "gateway.access" and lines[0]["request_id"] == "req-abc.123"
    assert lines[0]["status"] == 200 and lines[0]["path"] == "/api/v1/analysis/x" and lines[0]["tenant_id"]


def test_request_id_is_generated_when_absent_or_unsafe(gw, token):
    for extra in ({}, {"x-request-id": "bad id\twith spaces"}):
        response = gw.client.get("/api/v1/analysis/x", headers={**bearer(token()), **extra})
        rid = response.headers["x-request-id"]
        assert len(rid) == 32 and int(rid, 16) >= 0
        assert response.json()["headers"]["x-request-id"] == [rid]
    assert gw.client.get("/api/v1/nothing", headers=bearer(token())).headers["x-request-id"]
    problem_response = gw.client.get("/api/v1/nothing", headers={**bearer(token()), "x-request-id": "r-404"})
    assert problem_response.headers.get_list("x-request-id") == ["r-404"]
    cors = gw.client.get("/api/v1/analysis/x", headers={**bearer(token()), "x-request-id": "r-cors",
                                                         "origin": "https://app.example.org"})
    assert cors.headers.get_list("x-request-id") == ["r-cors"]  # the CORS path sets it once as well
    assert gw.client.get("/api/v1/athletes/").headers["x-request-id"]  # on a 401 too


# ------------------------------------------------------------------------------------------------ CORS
def test_cors_preflight_allowed_origin(gw):
    response = gw.client.options("/api/v1/athletes/", headers={
        "origin": "https://app.example.com", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in response.headers["access-control-allow-methods"]


def test_cors_preflight_denied_origin(gw):
    response = gw.client.options("/api/v1/athletes/", headers={
        "origin": "https://evil.example.com", "access-control-request-method": "POST"})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_cors_simple_request_headers(gw, token):
    allowed = gw.client.get("/api/v1/athletes/", headers={**bearer(token()), "origin": "https://app.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"]
    assert allowed.headers.get_list("vary") == ["Origin"]
    plain = gw.client.get("/api/v1/athletes/", headers=bearer(token()))
    assert plain.headers.get_list("vary") == ["Origin"] and "access-control-allow-origin" not in plain.headers
    denied = gw.client.get("/api/v1/athletes/", headers={**bearer(token()), "origin": "http://localhost:3000"})
    assert denied.status_code == 200 and "access-control-allow-origin" not in denied.headers
    unauthenticated = gw.client.get("/api/v1/athletes/", headers={"origin": "https://app.example.com"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["access-control-allow-origin"] == "https://app.example.com"


# ------------------------------------------------------------------------------------------------ rate limits
def _exhaust(client: httpx.Client, method: str, path: str, headers: dict, limit: int) -> list[httpx.Response]:
    return [client.request(method, path, headers=headers, json={}) for _ in range(limit + 1)]


def _assert_limited(responses: list[httpx.Response], limit: int) -> None:
    allowed, last = responses[:-1], responses[-1]
    assert [r.status_code for r in allowed] == [200] * limit
    # draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy "<name>";q=<quota>;w=<window>, RateLimit r= and t=
    policies = {r.headers["ratelimit-policy"] for r in allowed}
    assert len(policies) == 1 and re.fullmatch(rf'"(ip|login|user|tenant)";q={limit};w=60', policies.pop())
    fields = [re.fullmatch(r'"(ip|login|user|tenant)";r=(\d+);t=(\d+)', r.headers["ratelimit"]) for r in allowed]
    assert [int(f.group(2)) for f in fields] == list(range(limit - 1, -1, -1))
    assert all(1 <= int(f.group(3)) <= 60 for f in fields)
    assert not any(name.startswith("ratelimit-") and name != "ratelimit-policy" for name in allowed[0].headers)
    assert_problem(last, 429, "rate-limited")
    assert int(last.headers["retry-after"]) >= 1
    assert re.fullmatch(r'"\w+";r=0;t=\d+', last.headers["ratelimit"])
    assert "x-upstream" not in last.headers


def test_user_rate_limit_in_process(gw, token):
    _assert_limited(_exhaust(gw.client, "GET", "/api/v1/athletes/", bearer(token()), 5), 5)


def test_login_rate_limit_per_ip_in_process(gw):
    ip = {"x-forwarded-for": f"10.1.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}
    _assert_limited(_exhaust(gw.client, "POST", "/api/v1/auth/login", ip, 3), 3)
    other_ip = gw.client.post("/api/v1/auth/login", json={}, headers={"x-forwarded-for": "10.2.0.1"})
    assert other_ip.status_code == 200


def test_rate_limits_against_real_redis(gw_redis, token):
    testing.need_server("redis")
    _assert_limited(_exhaust(gw_redis.client, "GET", "/api/v1/athletes/", bearer(token()), 4), 4)
    ip = {"x-forwarded-for": f"10.3.{uuid.uuid4().int % 250}.1"}
    _assert_limited(_exhaust(gw_redis.client, "POST", "/api/v1/auth/login", ip, 2), 2)
    keys = redis.Redis.from_url(testing.REDIS_URL).keys(gw_redis.env["RATE_LIMIT_PREFIX"] + "*")
    assert any(b":user:" in k for k in keys) and any(b":login:" in k for k in keys)


def test_rate_limit_fails_open_when_redis_is_down(gw_degraded, token):
    headers = bearer(token())
    statuses = [gw_degraded.client.get("/api/v1/athletes/", headers=headers).status_code for _ in range(5)]
    assert statuses == [200] * 5  # RATE_LIMIT_USER=2 would have limited; Redis is unreachable: fail open
    assert "rate limiter: Redis unavailable" in gw_degraded.log_path.read_text()


# ------------------------------------------------------------------------------------------------ bodies
def test_large_content_length_is_413_before_any_body(gw, token):
    status, headers, body = raw_request(gw.port, (
        f"POST /api/v1/imports/ HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token()}\r\n"
        f"content-type: text/csv\r\ncontent-length: {200 * 1024 * 1024}\r\n\r\n").encode())
    assert status == 413
    assert headers["content-type"].startswith(PROBLEM)
    assert json.loads(body)["type"] == "urn:vo2:problem:payload-too-large"


def test_oversized_chunked_body_is_413(gw, token):
    chunk = b"x" * 65536
    chunks = [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * (MAX_BODY // len(chunk) + 16) + [b"0\r\n\r\n"]
    status, headers, body = raw_request(gw.port, (
        f"POST /api/v1/imports/ HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token()}\r\n"
        f"content-type: text/csv\r\ntransfer-encoding: chunked\r\n\r\n").encode(), body_chunks=chunks)
    assert status == 413
    assert json.loads(body)["type"] == "urn:vo2:problem:payload-too-large"


def test_bodies_under_the_limit_stream_through(gw, token):
    size = 3 * 1024 * 1024 + 17

    def gen():
        sent = 0
        while sent < size:
            part = b"y" * min(100_000, size - sent)
            sent += len(part)
            yield part

    chunked = gw.client.post("/api/v1/imports/", headers=bearer(token()), content=gen())
    assert chunked.status_code == 200 and chunked.json()["body_bytes"] == size
    # issue 12 finding 6: Django reads no chunked body, so by default the gateway spools it and sends a length
    assert chunked.json()["headers"]["content-length"] == [str(size)]
    assert "transfer-encoding" not in chunked.json()["headers"]
    sized = gw.client.post("/api/v1/imports/", headers=bearer(token()), content=b"z" * size)
    assert sized.status_code == 200 and sized.json()["body_bytes"] == size
    assert sized.json()["headers"]["content-length"] == [str(size)]


def test_upload_is_streamed_not_buffered(gw, gw_degraded, token):
    size = 45 * 1024 * 1024  # under the 50 MB limit of gw_degraded

    def gen():
        block = b"u" * (256 * 1024)
        for _ in range(size // len(block)):
            yield block

    for instance in (gw_degraded, gw):  # chunked: streamed as chunked, or spooled (default) and sent with a length
        before = instance.peak_rss_kb()
        response = instance.client.post("/api/v1/imports/", headers=bearer(token()), content=gen())
        assert response.status_code == 200 and response.json()["body_bytes"] == size
        grown_mb = (instance.peak_rss_kb() - before) / 1024
        assert grown_mb < 25, f"gateway peak memory grew {grown_mb:.0f} MB for a 45 MB upload"
    assert response.json()["headers"]["content-length"] == [str(size)]
    assert "transfer-encoding" not in response.json()["headers"]


def test_streamed_chunked_body_over_the_limit_is_413(gw_degraded, token):
    chunk = b"x" * 65536
    chunks = [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * (50 * 1024 * 1024 // len(chunk) + 16) + [b"0\r\n\r\n"]
    status, _, body = raw_request(gw_degraded.port, (
        f"POST /api/v1/imports/ HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token()}\r\n"
        f"transfer-encoding: chunked\r\n\r\n").encode(), body_chunks=chunks, timeout=30)
    assert status == 413 and json.loads(body)["type"] == "urn:vo2:problem:payload-too-large"


def test_large_response_is_streamed(gw, token):
    mb = 96
    before = gw.peak_rss_kb()
    digest, total = hashlib.sha256(), 0
    with gw.client.stream("GET", f"/api/v1/reports/big?mb={mb}", headers=bearer(token())) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == 'attachment; filename="big.pdf"'
        for chunk in response.iter_raw():
            total += len(chunk)
            digest.update(chunk)
    block = bytes(range(256)) * 256
    expected = hashlib.sha256(block * (mb * 1024 * 1024 // len(block))).hexdigest()
    assert total == mb * 1024 * 1024 and digest.hexdigest() == expected
    grown_mb = (gw.peak_rss_kb() - before) / 1024
    assert grown_mb < 30, f"gateway peak memory grew {grown_mb:.0f} MB for a {mb} MB download"


# ------------------------------------------------------------------------------------------------ upstream failures
def test_upstream_down_is_502_naming_the_service(gw_degraded, token):
    body = assert_problem(gw_degraded.client.get("/api/v1/analysis/run", headers=bearer(token())), 502,
                          "bad-gateway")
    assert body["service"] == "analysis" and "analysis" in body["detail"]
    assert gw_degraded.client.get("/api/v1/athletes/", headers=bearer(token())).status_code == 200


def test_upstream_timeout_is_504_naming_the_service(gw, token):
    body = assert_problem(gw.client.get("/api/v1/reports/sleep?s=3", headers=bearer(token())), 504,
                          "gateway-timeout")
    assert body["service"] == "reports" and "reports" in body["detail"]
    assert gw.client.get("/api/v1/reports/sleep?s=0.1", headers=bearer(token())).status_code == 200


# ------------------------------------------------------------------------------------------------ docs, health
def test_merged_openapi_has_every_service(gw):
    response = gw.client.get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    for prefixes in PREFIXES.values():
        for prefix in prefixes:
            assert prefix in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert "Shared" in schemas and not any(name.endswith("_Shared") for name in schemas)
    # every service's "Error" differs: the first keeps the name, the others are renamed and their $refs follow
    assert schemas["Error"]["properties"] == {"identity_field": {"type": "string"}}
    assert schemas["measurements_Error"]["properties"] == {"measurements_field": {"type": "string"}}
    ref = doc["paths"]["/api/v1/athletes/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/measurements_Error"}
    ref = doc["paths"]["/api/v1/auth/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/Error"}
    op_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(op_ids) == len(set(op_ids))


def test_merged_openapi_survives_a_service_being_down(gw_degraded):
    doc = gw_degraded.client.get("/api/openapi.json").json()
    assert "/api/v1/analysis/" not in doc["paths"]
    assert "/api/v1/athletes/" in doc["paths"] and "/api/v1/reports/" in doc["paths"]
    assert "analysis" in doc["info"]["description"]


def test_docs_page_works_offline(gw):
    response = gw.client.get("/api/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "/api/v1/athletes/" in response.text and "/api/openapi.json" in response.text
    assert "cdn" not in response.text.lower() and "<script" not in response.text.lower()


def test_health_and_readiness(gw, gw_redis, gw_degraded):
    assert gw.client.get("/healthz").json() == {"status": "alive"}
    ready = gw.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["jwks"]["status"] == "ok"
    ready = gw_redis.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["redis"]["status"] == "ok"
    # Redis down: rate limiting fails open, so the gateway stays in rotation and says Redis is degraded
    degraded = gw_degraded.client.get("/readyz")
    assert degraded.status_code == 200 and degraded.json()["checks"]["redis"]["status"] == "degraded"


def test_rotated_key_is_picked_up_by_a_rate_limited_refetch(gw, keys, tmp_dir):
    new = SigningKeys(tmp_dir / f"rotated-{uuid.uuid4().hex[:6]}")
    token = new.token(tid=str(uuid.uuid4()))
    assert_problem(gw.client.get("/api/v1/athletes/", headers=bearer(token)), 401, "not-authenticated")
    keys.jwks["keys"].append(new.jwks["keys"][0])  # identity publishes the new key (the fake serves this dict)
    try:
        deadline = time.monotonic() + 10
        while True:  # JWT_JWKS_REFETCH_S=1: the unknown kid is fetched again after at most a second
            response = gw.client.get("/api/v1/athletes/", headers=bearer(token))
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 200
        assert keys.token(tid="t") and gw.client.get("/api/v1/athletes/", headers=bearer(
            keys.token(tid=str(uuid.uuid4())))).status_code == 200  # the old key still works
    finally:
        keys.jwks["keys"].remove(new.jwks["keys"][0])


def test_head_and_keep_alive_reuse(gw, token):
    head = gw.client.head("/api/v1/athletes/", headers=bearer(token()))
    assert head.status_code == 200 and head.content == b""
    assert gw.client.get("/api/v1/athletes/", headers=bearer(token())).json()["method"] == "GET"


# ------------------------------------------------------------------------------------------------ issue 12 edges
def test_a_long_url_is_414_problem_from_the_gateway(gw, token):
    """A 5 KB URL reached gunicorn, which showed its own HTML page."""
    response = gw.client.get("/api/v1/athletes/?q=" + "a" * 5000, headers=bearer(token()))
    assert_problem(response, 414, "uri-too-long")
    assert "x-upstream" not in response.headers and response.headers["x-content-type-options"] == "nosniff"
    assert gw.client.get("/api/v1/athletes/?q=" + "a" * 3000, headers=bearer(token())).status_code == 200


def test_an_oversized_header_is_431_problem(gw, token):
    response = gw.client.get("/api/v1/athletes/", headers={**bearer(token()), "x-note": "n" * 9000})
    assert_problem(response, 431, "header-too-large")
    many = {f"x-extra-{i}": "1" for i in range(95)}
    assert_problem(gw.client.get("/api/v1/athletes/", headers={**bearer(token()), **many}), 431, "header-too-large")
    assert gw.client.get("/api/v1/athletes/", headers={**bearer(token()), "x-note": "n" * 7000}).status_code == 200


def test_security_headers_on_every_answer(gw, token):
    answers = [gw.client.get("/api/v1/athletes/", headers=bearer(token())),  # forwarded
               gw.client.get("/api/v1/athletes/"),  # 401 made by the gateway
               gw.client.get("/api/v1/nothing", headers=bearer(token())),  # FastAPI's 404
               gw.client.get("/api/docs"), gw.client.get("/api/openapi.json"), gw.client.get("/healthz"),
               gw.client.options("/api/v1/athletes/", headers={"origin": "https://app.example.com",
                                                                "access-control-request-method": "GET"})]
    for response in answers:
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], response.url
        assert response.headers.get_list("referrer-policy") == ["no-referrer"], response.url
        assert response.headers.get_list("x-frame-options") == ["DENY"], response.url
    csp = answers[3].headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "style-src 'unsafe-inline'" in csp
    assert "script-src" not in csp  # the docs page is plain HTML + inline style: nothing to run


def test_token_answers_are_never_stored(gw, token):
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/service-token",
                 "/api/v1/auth/sso/lab/callback", "/api/v1/auth/invitations/accept"):
        response = gw.client.post(path, json={}, headers=bearer(token()))
        assert response.headers.get_list("cache-control") == ["no-store"], path
    upstream_says_cache = gw.client.post("/api/v1/auth/login?cc=1", json={})
    assert upstream_says_cache.headers.get_list("cache-control") == ["no-store"]  # the gateway's value wins
    assert gw.client.get("/api/v1/athletes/?cc=1", headers=bearer(token())).headers["cache-control"] == \
        "private, max-age=5"
    assert "cache-control" not in gw.client.get("/api/v1/athletes/", headers=bearer(token())).headers


def test_if_none_match_answers_304_without_the_body(gw, token):
    """Issue 12 finding 6: the PDF had an ETag but If-None-Match still answered 200."""
    first = gw.client.get("/api/v1/reports/r1/file", headers=bearer(token()))
    assert first.status_code == 200 and first.headers["etag"] == '"pdf-v1"'
    for sent in ('"pdf-v1"', 'W/"pdf-v1"', '"other", "pdf-v1"', "*"):
        again = gw.client.get("/api/v1/reports/r1/file", headers={**bearer(token()), "if-none-match": sent})
        assert again.status_code == 304 and again.content == b"", sent
        assert again.headers["etag"] == '"pdf-v1"' and again.headers["cache-control"] == "private, max-age=0"
        assert again.headers["x-request-id"] and "content-type" not in again.headers
    changed = gw.client.get("/api/v1/reports/r1/file", headers={**bearer(token()), "if-none-match": '"pdf-v0"'})
    assert changed.status_code == 200 and changed.content == b"%PDF-1.7 fake"
    posted = gw.client.post("/api/v1/reports/r1/file", headers={**bearer(token()), "if-none-match": '"pdf-v1"'})
    assert posted.status_code == 200  # only GET and HEAD are conditional here


def test_trace_context_is_passed_on_or_started(gw, token):
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    seen = gw.client.get("/api/v1/analysis/x", headers={**bearer(token()), "traceparent": incoming}).json()
    assert seen["headers"]["traceparent"] == [incoming]
    made = gw.client.get("/api/v1/analysis/x", headers={**bearer(token()), "traceparent": "garbage"})
    (traceparent,) = made.json()["headers"]["traceparent"]
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00" and trace_id == made.headers["x-request-id"] and len(span_id) == 16 and flags == "01"


def test_one_trailing_slash_rule_both_forms_work(gw, token):
    """`/api/v1/athletes` and `/api/v1/athletes/<id>` 404ed without the slash while `/tests` worked: the gateway
    forwards the form each service documents, whichever form the client used."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the path shapes load in the background at start
        seen = gw.client.get("/api/v1/athletes/a1", headers=bearer(token())).json()
        if seen["path"] == "/api/v1/athletes/a1/":
            break
        time.sleep(0.2)
    assert seen["path"] == "/api/v1/athletes/a1/"
    assert gw.client.get("/api/v1/athletes/a1/", headers=bearer(token())).json()["path"] == "/api/v1/athletes/a1/"
    assert gw.client.get("/api/v1/athletes", headers=bearer(token())).json()["path"] == "/api/v1/athletes/"
    posted = gw.client.post("/api/v1/auth/login/", json={"a": 1}).json()
    assert posted["path"] == "/api/v1/auth/login" and posted["body_bytes"] == len(b'{"a":1}')
    assert gw.client.get("/api/v1/athletes/a1/x?q=1", headers=bearer(token())).json()["raw_path"] == \
        "/api/v1/athletes/a1/x"  # undocumented: unchanged


def test_a_json_body_over_the_services_limit_is_413_at_the_gateway(gw, token):
    """11 MiB of JSON reached Django, which answered an HTML 400; the gateway now refuses JSON over the services'
    own limit (MAX_JSON_BODY_BYTES, 10 MiB) itself, and the kit answers 413 problem+json at a service directly."""
    body = b'{"notes": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    response = gw.client.post("/api/v1/athletes/", content=body,
                              headers={**bearer(token()), "content-type": "application/json"})
    body_problem = assert_problem(response, 413, "payload-too-large")
    assert str(10 * 1024 * 1024) in body_problem["detail"] and "x-upstream" not in response.headers
    upload = gw.client.post("/api/v1/imports/", content=body, headers={**bearer(token()), "content-type": "text/csv"})
    assert upload.status_code == 200 and upload.json()["body_bytes"] == len(body)  # uploads keep the larger limit


def _scrape(gw) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(gw.metrics_url, timeout=5).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _sample(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_answers_are_counted_by_route_timed_per_upstream_and_token_cache_hits_show(gw, token):
    """Issue 17: the gateway's own metrics, on its own METRICS_PORT (never on the public port)."""
    done = dict(service="gateway", route="/api/v1/analysis/", method="GET", status="200")
    refused = dict(done, status="401")
    was = _scrape(gw)
    caller = token()
    for n in range(3):
        assert gw.client.get(f"/api/v1/analysis/item-{n}", headers=bearer(caller)).status_code == 200
    assert gw.client.get("/api/v1/analysis/x").status_code == 401
    now = _scrape(gw)
    assert _sample(now, "vo2_http_requests_total", **done) == _sample(was, "vo2_http_requests_total", **done) + 3
    assert _sample(now, "vo2_http_requests_total", **refused) == _sample(was, "vo2_http_requests_total", **refused) + 1
    hits = ("vo2_gateway_token_cache_total", "hit")
    assert _sample(now, hits[0], result=hits[1]) >= _sample(was, hits[0], result=hits[1]) + 2  # verified once
    timed = "vo2_gateway_upstream_request_duration_seconds_count"
    assert _sample(now, timed, upstream="analysis") == _sample(was, timed, upstream="analysis") + 3
    assert _sample(now, "vo2_http_requests_in_flight", service="gateway") == 0
    if os.environ.get("GATEWAY_TEST_TRANSPORT", "native") == "native":  # the pool whose use is shown
        assert _sample(now, "vo2_gateway_upstream_connections", upstream="analysis", state="idle") >= 1
    assert "vo2_http_requests_total" not in gw.client.get("/metrics").text  # not on the public port


def test_rate_limit_refusals_are_counted_by_limit(gw_untrusting, token):
    was = _scrape(gw_untrusting)
    statuses = [gw_untrusting.client.post("/api/v1/auth/login", json={}).status_code for _ in range(5)]
    assert statuses.count(429) >= 1
    assert _sample(_scrape(gw_untrusting), "vo2_gateway_rate_limited_total", scope="login") == \
        _sample(was, "vo2_gateway_rate_limited_total", scope="login") + statuses.count(429)


@pytest.fixture(scope="module")
def gw_traced(upstreams, tmp_dir):
    from servicekit.testing import OtlpReceiver

    from .conftest import Gateway, base_env

    receiver = OtlpReceiver()
    gateway = Gateway({**base_env(upstreams), "RATE_LIMIT_IP": "100000", "OTEL_EXPORTER_OTLP_ENDPOINT":
                       receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}, tmp_dir, "traced")
    gateway.receiver = receiver
    yield gateway
    gateway.stop()
    receiver.close()


def test_with_tracing_on_the_service_is_called_from_a_client_span_of_the_clients_trace(gw_traced, token):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    seen = gw_traced.client.get("/api/v1/analysis/x", headers={**bearer(token()),
                                                                "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    spans = gw_traced.receiver.wait_for(lambda found: len([s for s in found if s["trace_id"] == trace_id]) >= 2)
    mine = {s["name"]: s for s in spans if s["trace_id"] == trace_id}
    server, call = mine["GET /api/v1/analysis/"], mine["GET analysis"]
    assert server["parent_id"] == "00f067aa0ba902b7" and call["parent_id"] == server["span_id"]
    assert server["service"] == "gateway" and server["attributes"]["http.response.status_code"] == 200
    assert seen.json()["headers"]["traceparent"] == [f"00-{trace_id}-{call['span_id']}-01"]


def test_credentials_that_cannot_be_checked_now_are_503_not_401(upstreams, tmp_dir, keys, token):
    """Identity unreachable (no signing key held; an API key cannot be exchanged): the credential may be fine, so
    503 `auth-unavailable` with Retry-After, not a 401 that sends a user back to the login. A token that is wrong
    whatever the keys stays 401."""
    from .conftest import Gateway, base_env, dead_port

    env = base_env(upstreams)
    identity_down = f"http://127.0.0.1:{dead_port()}"
    env.update({"JWT_JWKS_URL": identity_down + "/.well-known/jwks.json", "IDENTITY_URL": identity_down,
                "SERVICE_CLIENT_ID": "gateway", "SERVICE_CLIENT_SECRET": "s3cret"})
    gateway = Gateway(env, tmp_dir, "identity-down")
    try:
        answer = gateway.client.get("/api/v1/athletes/", headers=bearer(token()))
        assert_problem(answer, 503, "auth-unavailable")
        assert answer.headers["retry-after"] == "1" and "www-authenticate" not in answer.headers
        api_key = gateway.client.get("/api/v1/athletes/", headers=bearer("vo2_" + "a" * 40))
        assert_problem(api_key, 503, "auth-unavailable")
        assert_problem(gateway.client.get("/api/v1/athletes/", headers=bearer("not-a-jwt")), 401, "not-authenticated")
    finally:
        gateway.stop()
