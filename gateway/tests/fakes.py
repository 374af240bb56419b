"""Small fake upstream services (real HTTP servers) standing in for the services other engineers build."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import uvicorn

from servicekit.testing import free_port

CHUNK = 64 * 1024


def openapi_for(service: str, prefixes: list[str]) -> dict:
    paths = {}
    # documented in one form only: the gateway forwards the other form as this one (one trailing-slash rule)
    extra = {"measurements": ["/api/v1/athletes/{id}/"], "identity": ["/api/v1/auth/login"]}.get(service, [])
    for path in extra:
        paths[path] = {"post" if "login" in path else "get": {
            "operationId": f"extra_{len(paths)}", "responses": {"200": {"description": "ok"}}}}
    for prefix in prefixes:
        paths[prefix] = {"get": {"operationId": "list", "summary": f"List {prefix}",
                                 "responses": {"200": {"description": "ok", "content": {"application/json": {
                                     "schema": {"$ref": "#/components/schemas/Error"}}}}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": service, "version": "1"},
        "paths": paths,
        "components": {"schemas": {
            # Same name, different shape in every service: must be renamed on merge.
            "Error": {"type": "object", "properties": {f"{service}_field": {"type": "string"}}},
            # Same name, same shape everywhere: must be shared.
            "Shared": {"type": "object", "properties": {"id": {"type": "string"}}},
        }},
    }


def make_app(service: str, prefixes: list[str], jwks: dict | None = None):
    """A raw ASGI app: echoes what it received as JSON, plus a few special paths."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        query = scope["query_string"].decode()
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)

        async def reply(status, body: bytes, content_type=b"application/json", headers=()):
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                                    *headers]})
            await send({"type": "http.response.body", "body": body})

        if path == "/openapi.json":
            return await reply(200, json.dumps(openapi_for(service, prefixes)).encode())
        if path == "/.well-known/jwks.json" and jwks is not None:
            return await reply(200, json.dumps(jwks).encode())
        if path.endswith("/file"):  # a file with a strong validator, as reports' PDF
            return await reply(200, b"%PDF-1.7 fake", b"application/pdf",
                               headers=[(b"etag", b'"pdf-v1"'), (b"cache-control", b"private, max-age=0")])
        if path.endswith("/sleep"):
            await asyncio.sleep(float(params.get("s", "3")))
            return await reply(200, b'{"slept": true}')
        if path.endswith("/big"):
            size = int(params.get("mb", "1")) * 1024 * 1024
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/pdf"),
                                    (b"content-disposition", b'attachment; filename="big.pdf"')]})
            sent, block = 0, bytes(range(256)) * (CHUNK // 256)
            while sent < size:
                await send({"type": "http.response.body", "body": block, "more_body": True})
                sent += len(block)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        received, more = 0, True
        while more:
            message = await receive()
            received += len(message.get("body", b""))
            more = message.get("more_body", False)
        headers: dict[str, list[str]] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        body = {
            "service": service, "method": scope["method"], "path": path,
            "raw_path": (scope.get("raw_path") or b"").decode("latin-1"), "query": query,
            "headers": headers, "body_bytes": received, "client": scope["client"][0],
        }
        echo = [(b"x-request-id", v.encode("latin-1")) for v in headers.get("x-request-id", [])]  # as services do
        if params.get("cc"):
            echo.append((b"cache-control", b"private, max-age=5"))
        return await reply(200, json.dumps(body).encode(), headers=[(b"x-upstream", service.encode()),
                                                                   (b"set-cookie", b"upstream=1; Path=/"), *echo])

    return app


class ServerThread:
    """A uvicorn server in a background thread on a free loopback port."""

    def __init__(self, app, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"fake server on {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
