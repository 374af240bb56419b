"""API keys at the gateway (apikeys.py): one exchange per key within the cache time (never over 60 s), refusals
answered as bad tokens, the key replaced upstream by the access token. Identity's side is a real HTTP server on a
socket here (a tiny asyncio one), answering as identity's exchange does."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from servicekit.jwt import InvalidToken

from gateway import apikeys
from gateway.proxy import RequestHead
from gateway.settings import Settings


def settings_for(url: str, **overrides) -> Settings:
    import os

    os.environ.setdefault("VO2_MODE", "local")
    base = Settings.from_env()
    values = {**base.__dict__, "service_urls": {**base.service_urls, "identity": url},
              "service_client_id": "gateway", "service_client_secret": "s3cret", **overrides}
    return Settings(**values)


async def identity(calls: list, answer):
    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        body = json.loads(await reader.readexactly(length))
        calls.append(body)
        status, payload = answer(body)
        data = json.dumps(payload).encode()
        writer.write(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
                     % (status, len(data)) + data)
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def good(body):
    if body["api_key"] == "vo2_good" and body["client_secret"] == "s3cret":
        return 200, {"access": f"access-{time.monotonic()}", "token_type": "Bearer", "expires_in": 90}
    return 401, {"type": "urn:vo2:problem:invalid-api-key"}


def test_one_exchange_per_key_within_the_cache_time_and_refusals_are_bad_tokens():
    async def scenario():
        calls = []
        server, url = await identity(calls, good)
        keys = apikeys.ApiKeys(settings_for(url, api_key_cache_s=60.0))
        first = await asyncio.gather(*(keys.access_token("vo2_good") for _ in range(5)))
        assert len(set(first)) == 1 and len(calls) == 1  # single flight, then cached
        assert calls[0] == {"client_id": "gateway", "client_secret": "s3cret", "api_key": "vo2_good"}
        with pytest.raises(InvalidToken):
            await keys.access_token("vo2_bad")
        with pytest.raises(InvalidToken):
            await keys.access_token("vo2_bad")  # the refusal is remembered a few seconds
        assert len(calls) == 2
        await keys.aclose()
        server.close()
    asyncio.run(scenario())


def test_the_cache_never_outlives_60_seconds_nor_the_setting():
    assert apikeys.ApiKeys(settings_for("http://127.0.0.1:1", api_key_cache_s=3600.0)).cache_s == 60.0

    async def scenario():
        calls = []
        server, url = await identity(calls, good)
        keys = apikeys.ApiKeys(settings_for(url, api_key_cache_s=0.2))
        one = await keys.access_token("vo2_good")
        await asyncio.sleep(0.3)
        assert await keys.access_token("vo2_good") != one and len(calls) == 2  # asked identity again
        await keys.aclose()
        server.close()
    asyncio.run(scenario())


def test_the_key_is_replaced_upstream_by_its_access_token_and_no_credentials_means_no_keys():
    async def scenario():
        calls = []
        server, url = await identity(calls, good)
        keys = apikeys.ApiKeys(settings_for(url))
        head = RequestHead([(b"authorization", b"Bearer vo2_good"), (b"accept", b"*/*")], 8000)
        assert apikeys.is_api_key(head.authorization) and not apikeys.is_api_key(b"Bearer eyJ...")
        value = await keys.swap(head, head.authorization)
        assert value.startswith(b"Bearer access-") and (b"authorization", value) in head.forward
        assert b"vo2_good" not in b"".join(v for _, v in head.forward)
        off = apikeys.ApiKeys(settings_for(url, service_client_id=None))
        with pytest.raises(InvalidToken):
            await off.access_token("vo2_good")
        await keys.aclose()
        server.close()
    asyncio.run(scenario())


# ---- through a running gateway: the key never travels upstream, and rate limits count per key --------------------

def exchanging_identity(keys, tenant: str, calls: list):
    """identity's JWKS and its key exchange (a fake of identity's answers, signing real tokens with the test keys),
    with the echo app behind every other identity path."""
    from .fakes import make_app

    echo = make_app("identity", ["/api/v1/auth/", "/api/v1/tenants/"], keys.jwks)
    live = {"vo2_key_one": "11111111-1111-4111-8111-111111111111", "vo2_key_two": "22222222-2222-4222-8222-222222222222"}

    async def app(scope, receive, send):
        if scope["type"] != "http" or scope["path"] != apikeys.EXCHANGE_PATH:
            return await echo(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        asked = json.loads(body)
        calls.append(asked["api_key"])
        if asked["client_secret"] == "gw-secret" and asked["api_key"] in live:
            status, answer = 200, {"access": keys.token(sub=live[asked["api_key"]], tid=tenant, roles=["viewer"],
                                                        lifetime=90, api_key=asked["api_key"][:12]),
                                   "token_type": "Bearer", "expires_in": 90}
        else:
            status, answer = 401, {"type": "urn:vo2:problem:invalid-api-key"}
        data = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})
    return app


def test_a_key_is_swapped_for_its_token_upstream_and_limited_per_key(keys, upstreams, tmp_dir):
    import uuid

    from .conftest import Gateway, base_env
    from .fakes import ServerThread

    tenant, calls = str(uuid.uuid4()), []
    identity_server = ServerThread(exchanging_identity(keys, tenant, calls)).start()
    env = base_env(upstreams)
    env.update({"IDENTITY_URL": identity_server.url, "JWT_JWKS_URL": identity_server.url + "/.well-known/jwks.json",
                "SERVICE_CLIENT_ID": "gateway", "SERVICE_CLIENT_SECRET": "gw-secret", "RATE_LIMIT_IP": "100000",
                "RATE_LIMIT_USER": "3", "RATE_LIMIT_TENANT": "1000"})
    gateway = Gateway(env, tmp_dir, "apikeys")
    try:
        one = {"Authorization": "Bearer vo2_key_one"}
        seen = gateway.client.get("/api/v1/athletes/", headers=one)
        assert seen.status_code == 200, seen.text
        forwarded = seen.json()["headers"]["authorization"][0]
        assert forwarded.startswith("Bearer ey") and "vo2_key_one" not in str(seen.json()["headers"])
        assert seen.json()["headers"]["x-user-id"] == ["11111111-1111-4111-8111-111111111111"]
        statuses = [gateway.client.get("/api/v1/athletes/", headers=one).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]  # RATE_LIMIT_USER=3 counts per key (its sub)
        two = gateway.client.get("/api/v1/athletes/", headers={"Authorization": "Bearer vo2_key_two"})
        assert two.status_code == 200
        assert calls.count("vo2_key_one") == 1  # cached: one exchange for four calls
        bad = gateway.client.get("/api/v1/athletes/", headers={"Authorization": "Bearer vo2_unknown"})
        assert bad.status_code == 401 and bad.json()["type"] == "urn:vo2:problem:not-authenticated"
    finally:
        gateway.stop()
        identity_server.stop()
