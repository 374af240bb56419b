"""Real processes: fake upstream services (uvicorn threads) and gateway instances (uvicorn subprocesses)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from servicekit import testing
from servicekit.testing import SigningKeys, free_port

from .fakes import ServerThread, make_app

GATEWAY_DIR = Path(__file__).resolve().parents[1]
PREFIXES = {
    "identity": ["/api/v1/auth/", "/api/v1/tenants/", "/api/v1/users/"],
    "measurements": ["/api/v1/athletes/", "/api/v1/tests/", "/api/v1/imports/"],
    "analysis": ["/api/v1/analysis/"],
    "reports": ["/api/v1/reports/"],
    "notifications": ["/api/v1/notifications/", "/api/v1/webhooks/"],
}
MAX_BODY = 64 * 1024 * 1024


class Gateway:
    def __init__(self, env: dict[str, str], tmp: Path, name: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"METRICS_PORT": str(free_port()), **env}  # its own metrics endpoint, as in every deployment
        self.metrics_url = f"http://127.0.0.1:{env['METRICS_PORT']}/metrics"
        self.env = env
        self.log_path = tmp / f"gateway-{name}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.endswith("_URL") and not k.startswith(
            ("RATE_LIMIT", "JWT_", "CORS_", "UPSTREAM_", "MAX_BODY", "TRUSTED_PROXIES", "CHUNKED"))}
        full_env.update(env)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log", "--no-proxy-headers"],
            cwd=GATEWAY_DIR, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gateway did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def peak_rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def tmp_dir():
    path = Path(tempfile.mkdtemp(prefix="vo2-gateway-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def keys(tmp_dir):
    return SigningKeys(tmp_dir / "keys")


@pytest.fixture(scope="session")
def upstreams(keys):
    servers = {name: ServerThread(make_app(name, prefixes, keys.jwks if name == "identity" else None)).start()
               for name, prefixes in PREFIXES.items()}
    yield servers
    for server in servers.values():
        server.stop()


def dead_port() -> int:
    return free_port()  # nothing listens there


def base_env(upstreams) -> dict[str, str]:
    env = {f"{name.upper()}_URL": server.url for name, server in upstreams.items()}
    # GATEWAY_TEST_TRANSPORT=aiohttp|httpx-aiohttp|httpx runs the same suite over another upstream client.
    env.update({"UPSTREAM_TRANSPORT": os.environ.get("GATEWAY_TEST_TRANSPORT", "native"),
                "VO2_MODE": "saas", "LOG_LEVEL": "INFO", "JWT_JWKS_REFETCH_S": "1",
                "CORS_ALLOW_ORIGINS": "https://app.example.com"})
    return env


@pytest.fixture(scope="session")
def gw(upstreams, tmp_dir):
    """In-process rate limits (no REDIS_URL), small limits, 1 s upstream timeout."""
    env = base_env(upstreams)
    env.update({"RATE_LIMIT_IP": "100000", "RATE_LIMIT_USER": "5", "RATE_LIMIT_TENANT": "50",
                "RATE_LIMIT_LOGIN_IP": "3", "MAX_BODY_BYTES": str(MAX_BODY), "UPSTREAM_TIMEOUT_S": "1",
                # the test client stands for a proxy in front of the gateway: its X-Forwarded-For picks the client
                "TRUSTED_PROXIES": "127.0.0.1"})
    gateway = Gateway(env, tmp_dir, "main")
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def gw_untrusting(upstreams, tmp_dir):
    """The default: no trusted proxy, so a client's X-Forwarded-* headers count for nothing."""
    env = base_env(upstreams)
    env.update({"RATE_LIMIT_IP": "100000", "RATE_LIMIT_LOGIN_IP": "3"})
    gateway = Gateway(env, tmp_dir, "untrusting")
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def gw_redis(upstreams, tmp_dir):
    testing.need_server("redis")
    env = base_env(upstreams)
    env.update({"REDIS_URL": testing.REDIS_URL, "RATE_LIMIT_PREFIX": f"vo2test:{uuid.uuid4().hex[:8]}:",
                "RATE_LIMIT_IP": "100000", "RATE_LIMIT_USER": "4", "RATE_LIMIT_TENANT": "50",
                "RATE_LIMIT_LOGIN_IP": "2", "TRUSTED_PROXIES": "127.0.0.0/8"})
    gateway = Gateway(env, tmp_dir, "redis")
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def gw_degraded(upstreams, tmp_dir):
    """analysis is down and Redis is unreachable (rate limiting must fail open); default 50 MB body limit;
    chunked request bodies are streamed on as chunked (CHUNKED_REQUEST_BODIES=stream; the default spools them)."""
    env = base_env(upstreams)
    env.update({"ANALYSIS_URL": f"http://127.0.0.1:{dead_port()}", "CHUNKED_REQUEST_BODIES": "stream",
                "REDIS_URL": f"redis://127.0.0.1:{dead_port()}/0", "RATE_LIMIT_USER": "2"})
    gateway = Gateway(env, tmp_dir, "degraded")
    yield gateway
    gateway.stop()


@pytest.fixture
def token(keys):
    def make(**kwargs):
        kwargs.setdefault("tid", str(uuid.uuid4()))
        return keys.token(**kwargs)
    return make


def raw_request(port: int, data: bytes, *, body_chunks=(), timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send raw bytes (then optional body chunks, ignoring a server that stops reading) and parse the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the gateway answered and closed before reading everything: that is the point
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            buf += part
            if b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    headers[k.strip().lower().decode()] = v.strip().decode()
                length = int(headers.get("content-length", "-1"))
                if length >= 0 and len(rest) >= length:
                    return int(head.split()[1]), headers, rest[:length]
    if b"\r\n\r\n" not in buf:
        raise AssertionError(f"no HTTP response received (got {buf[:200]!r})")
    head, _, rest = buf.partition(b"\r\n\r\n")
    headers = {line.partition(b":")[0].strip().lower().decode(): line.partition(b":")[2].strip().decode()
               for line in head.split(b"\r\n")[1:]}
    return int(head.split()[1]), headers, rest
