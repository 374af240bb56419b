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
