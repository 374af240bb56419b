"""The web console's static serving (gateway/console.py) on a build of its own in a temp folder."""
from __future__ import annotations

import asyncio
import gzip

from gateway.console import CSP, Console


def call(console: Console, path: str, method: str = "GET", headers=()) -> tuple[int, dict, bytes]:
    sent = []

    async def send(message):
        sent.append(message)

    async def run():
        scope = {"type": "http", "method": method, "path": path, "headers": list(headers)}
        return await console(scope, None, send, "rid")

    asyncio.run(run())
    start, body = sent
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body["body"]


def build(tmp_path, marker="one"):
    (tmp_path / "assets").mkdir(exist_ok=True)
    (tmp_path / "index.html").write_text(f"<!doctype html><script type=module src=/assets/app-{marker}.js></script>")
    (tmp_path / "assets" / f"app-{marker}.js").write_text("console.log('x');" * 100)


def test_routes_of_the_page_get_index_and_assets_are_immutable_and_gzipped(tmp_path):
    build(tmp_path)
    console = Console(tmp_path)
    for path in ("/", "/athletes", "/tests/abc/"):
        assert console.serves("GET", path)
        status, headers, body = call(console, path)
        assert status == 200 and body.startswith(b"<!doctype html>")
        assert headers["cache-control"] == "no-cache" and headers["content-security-policy"] == CSP
        assert headers["x-frame-options"] == "DENY"
    status, headers, body = call(console, "/assets/app-one.js", headers=[(b"accept-encoding", b"gzip, br")])
    assert status == 200 and headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-encoding"] == "gzip" and gzip.decompress(body).startswith(b"console.log")
    assert call(console, "/assets/app-one.js", headers=[(b"if-none-match", headers["etag"].encode())])[0] == 304
    assert call(console, "/assets/app-one.js", method="HEAD")[2] == b""
    assert call(console, "/assets/nothing.js")[0] == 404


def test_the_api_and_foreign_files_are_never_the_consoles(tmp_path):
    build(tmp_path)
    console = Console(tmp_path)
    for method, path in (("GET", "/api/v1/athletes/"), ("GET", "/.well-known/jwks.json"), ("GET", "/healthz"),
                         ("POST", "/"), ("GET", "/favicon.ico"), ("GET", "/api"), ("DELETE", "/athletes")):
        assert not console.serves(method, path), (method, path)


def test_a_rebuild_is_served_without_a_restart_and_no_build_says_how_to_make_one(tmp_path):
    console = Console(tmp_path)
    status, _, body = call(console, "/")
    assert status == 503 and b"./vo2 setup" in body
    build(tmp_path, "one")
    assert b"app-one.js" in call(console, "/")[2]
    import os
    import time

    build(tmp_path, "two")
    later = time.time() + 5
    os.utime(tmp_path / "index.html", (later, later))
    assert b"app-two.js" in call(console, "/")[2]
    assert call(console, "/assets/app-two.js")[0] == 200
