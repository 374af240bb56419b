"""One signed POST to a checked address: connect to the resolved IP (TLS still verifies the URL's host name), no
redirects, a total timeout, and at most a short excerpt of the answer read."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from .addresses import Target

EXCERPT_BYTES = 1024
USER_AGENT = "VO2max-Report-Webhooks/1"


@dataclass
class Outcome:
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_local = threading.local()


def _client(host: str) -> httpx.Client:
    """One client per worker thread and URL host (building one costs an SSL context: milliseconds per delivery).
    Per host because the pool is keyed by the address connected to: a TLS connection verified for one name must not
    carry another name's request."""
    clients = getattr(_local, "clients", None)
    if clients is None or len(clients) > 64:
        for old in (clients or {}).values():
            old.close()
        clients = _local.clients = {}
    client = clients.get(host)
    if client is None:
        client = clients[host] = httpx.Client(follow_redirects=False, trust_env=False,
                                              limits=httpx.Limits(max_keepalive_connections=4))
    return client


def _url(target: Target) -> str:
    host = f"[{target.address}]" if ":" in target.address else target.address
    return f"{target.scheme}://{host}:{target.port}{target.path}"


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    sent = {**headers, "Host": host_header, "Content-Type": "application/json", "User-Agent": USER_AGENT}
    started = time.monotonic()
    try:
        client = _client(target.host)
        request = client.build_request("POST", _url(target), content=body, headers=sent, extensions=extensions,
                                       timeout=httpx.Timeout(timeout))
        deadline = started + timeout
        response = client.send(request, stream=True)
        try:
            excerpt = b""
            for chunk in response.iter_bytes():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES or time.monotonic() > deadline:
                    break
        finally:
            response.close()
        latency = int((time.monotonic() - started) * 1000)
        return Outcome(response.status_code, latency, excerpt[:EXCERPT_BYTES].decode("utf-8", "replace"), "")
    except httpx.HTTPError as exc:
        latency = int((time.monotonic() - started) * 1000)
        return Outcome(None, latency, "", f"{type(exc).__name__}: {exc}"[:500])
