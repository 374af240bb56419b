"""The service-to-service client against a real HTTP server, and the local file store on a real folder."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from servicekit import http, requestid
from servicekit.storage import LocalStorage, safe_name


@pytest.fixture
def server():
    """Answers by path; records the headers of every request."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append({k.lower(): v for k, v in self.headers.items()} | {"path": self.path})
            token = self.headers.get("Authorization", "")
            if self.path == "/needs-fresh" and token != "Bearer fresh":
                return self.answer(401, {"detail": "expired"})
            answers = {"/ok": (200, {"ok": True}), "/needs-fresh": (200, {"fresh": True}),
                       "/problem": (422, {"type": "urn:vo2:problem:validation-error", "status": 422,
                                          "detail": "samples.time_s is required"}),
                       "/plain-400": (400, "not json"), "/missing": (404, {"detail": "no such test"}),
                       "/busy": (503, {"detail": "later"}), "/slow-down": (429, {"detail": "later"})}
            status, body = answers.get(self.path, (404, {"detail": "?"}))
            self.answer(status, body)

        def answer(self, status, body):
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", seen
    srv.shutdown()


class Tokens:
    def __init__(self):
        self.current, self.invalidated = "stale", []

    def __call__(self, tenant_id):
        return self.current

    def invalidate(self, tenant_id):
        self.invalidated.append(tenant_id)
        self.current = "fresh"


def test_service_token_is_refreshed_once_on_401_and_trace_headers_go_along(server):
    url, seen = server
    tokens = Tokens()
    client = http.ServiceClient("measurements", url, tokens=tokens, timeout=5)
    bound = requestid.bind("0123456789abcdef0123456789abcdef")
    try:
        assert client.get("/needs-fresh", tenant_id="t1") == {"fresh": True}
    finally:
        requestid.unbind(bound)
    assert tokens.invalidated == ["t1"] and [s["authorization"] for s in seen] == ["Bearer stale", "Bearer fresh"]
    assert seen[-1]["x-request-id"] == "0123456789abcdef0123456789abcdef"
    version, trace_id, span_id, flags = seen[-1]["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "0123456789abcdef0123456789abcdef", "01") and len(span_id) == 16


def test_the_callers_token_is_passed_on_unchanged_and_never_refreshed(server):
    url, seen = server
    client = http.ServiceClient("measurements", url, tokens=Tokens(), timeout=5)
    with pytest.raises(http.Refused) as refused:
        client.get("/needs-fresh", authorization="Bearer users-own")
    assert refused.value.status == 401 and [s["authorization"] for s in seen] == ["Bearer users-own"]


def test_answers_map_to_three_kinds_of_error(server):
    url, _ = server
    client = http.ServiceClient("analysis", lambda: url, tokens=Tokens(), timeout=lambda: 5)
    with pytest.raises(http.Refused) as refused:
        client.get("/problem", tenant_id="t")
    assert refused.value.status == 422 and refused.value.problem["detail"] == "samples.time_s is required"
    with pytest.raises(http.Refused) as plain:
        client.get("/plain-400", tenant_id="t")
    assert plain.value.problem["status"] == 400 and "not json" in plain.value.problem["detail"]
    with pytest.raises(http.NotFound):
        client.get("/missing", tenant_id="t")
    assert client.get("/missing", tenant_id="t", missing_ok=True) is None
    for path in ("/busy", "/slow-down"):
        with pytest.raises(http.Unavailable) as busy:
            client.get(path, tenant_id="t")
        assert busy.value.problem["type"] == "urn:vo2:problem:unavailable"


def test_unreachable_service_and_missing_token_are_unavailable():
    from servicekit.testing import free_port

    client = http.ServiceClient("analysis", f"http://127.0.0.1:{free_port()}", tokens=Tokens(), timeout=2)
    with pytest.raises(http.Unavailable, match="unreachable"):
        client.get("/ok", tenant_id="t")

    def no_token(tenant_id):
        raise RuntimeError("identity is unreachable")

    with pytest.raises(http.Unavailable, match="no service token"):
        http.ServiceClient("analysis", "http://127.0.0.1:9", tokens=no_token).get("/ok", tenant_id="t")
    with pytest.raises(ValueError):
        client.get("/ok")  # neither a tenant nor the caller's token


def test_local_storage_writes_atomically_and_stays_in_its_folder(tmp_path):
    import io

    store = LocalStorage(tmp_path / "files")
    size, sha = store.put("t1/imp/a.txt", io.BytesIO(b"x" * 3_000_000))
    assert size == 3_000_000 and len(sha) == 64 and store.size("t1/imp/a.txt") == size
    (tmp_path / "files" / "t1" / "imp" / ".a.txt.killed.part").write_bytes(b"half")  # a killed writer's leftover
    assert store.put("t1/imp/a.txt", b"second") == (6, __import__("hashlib").sha256(b"second").hexdigest())
    assert store.get("t1/imp/a.txt") == b"second" and store.open("t1/imp/a.txt").read() == b"second"
    assert sorted(p.name for p in (tmp_path / "files" / "t1" / "imp").iterdir()) == ["a.txt"]
    store.put("t1/imp/b.txt", b"b")
    store.delete("t1/imp/b.txt")
    assert not store.exists("t1/imp/b.txt") and store.exists("t1/imp/a.txt")
    store.delete_prefix("t1/imp")
    assert not store.exists("t1/imp/a.txt") and not (tmp_path / "files" / "t1" / "imp").exists()
    with pytest.raises(ValueError):
        store.put("../outside", b"no")
    assert safe_name("../../etc/pass wd") == "pass_wd" and safe_name("") == "upload"
