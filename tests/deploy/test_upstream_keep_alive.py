"""The services' servers keep an idle connection open longer than the gateway keeps it in its pool.

gunicorn closes an idle keep-alive connection after 2 s by default, the gateway reuses one for up to
UPSTREAM_KEEPALIVE_S (4 s). A request sent just as the server closed its connection fails; the gateway sends a
body-less request again on a new connection, but not a POST, whose body it has streamed already: bench/load.py saw
that as a 502 "the reports service is unavailable" about one run in three. So every server command (the launcher's
SaaS plan, the images, the Kubernetes manifests) sets its keep-alive above the gateway's expiry, and a real gunicorn
started with the launcher's value keeps the gateway's connection through an idle pause longer than its default."""
from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from servicekit.testing import free_port, wait_for_http

from launcher.system import PYTHON, UPSTREAM_KEEP_ALIVE_S, System

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "gateway"))

from gateway.fastclient import Pool
from gateway.settings import DEFAULT_UPSTREAM_KEEPALIVE_S as GATEWAY_EXPIRY_S

from .images import dockerfile_cmd

GUNICORN_DEFAULT_KEEP_ALIVE_S = 2
FLAG = re.compile(r"--(?:timeout-)?keep-alive[ =](\d+)")


def keep_alive_of(command: str) -> float | None:
    found = FLAG.search(command)
    return float(found.group(1)) if found else None


def test_the_gateway_drops_idle_connections_before_the_servers_do(tmp_path):
    assert GATEWAY_EXPIRY_S < UPSTREAM_KEEP_ALIVE_S
    commands = {}
    for proc in System(mode="saas", data_dir=tmp_path).plan():
        if "gunicorn" in proc.argv or "analysis.app:app" in proc.argv:
            commands[f"launcher {proc.name}"] = " ".join(proc.argv)
    for service in ("identity", "measurements", "reports", "notifications", "analysis"):
        commands[f"{service} image"] = dockerfile_cmd(service)[-1]
    for path in sorted((ROOT / "deploy" / "k8s" / "base").glob("*.yaml")):
        for line in path.read_text().splitlines():
            if "exec gunicorn" in line:
                commands[f"k8s {path.name}"] = line
    assert len(commands) == 5 + 5 + 4, sorted(commands)
    for where, command in commands.items():
        keep = keep_alive_of(command)
        assert keep is not None and keep > GATEWAY_EXPIRY_S, (where, command)


PEER_APP = textwrap.dedent('''
    def app(environ, start_response):
        environ["wsgi.input"].read()
        body = environ["REMOTE_PORT"].encode()  # which client connection carried this request
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
''')


@pytest.fixture
def gunicorn(tmp_path):
    (tmp_path / "peerapp.py").write_text(PEER_APP)
    started = []

    def start(*keep_alive: str) -> str:
        port = free_port()
        proc = subprocess.Popen([PYTHON, "-m", "gunicorn", "peerapp:app", "--bind", f"127.0.0.1:{port}",
                                 "--worker-class", "gthread", "--threads", "4", "--workers", "1", *keep_alive],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        wait_for_http(f"http://127.0.0.1:{port}/")
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


async def two_posts(url: str, pause_s: float) -> tuple[str, str]:
    """Two POSTs through the gateway's own upstream pool, `pause_s` apart: the server's peer port of each."""
    pool = Pool(url, 4, GATEWAY_EXPIRY_S, 5.0, 5.0)

    async def post() -> str:
        async def body():
            yield b"hello"
        conn = await pool.request("POST", b"/", [(b"content-length", b"5")], body())
        chunks = []
        while (chunk := await conn.next_chunk(5.0)) is not None:
            chunks.append(chunk)
        assert conn.status == 200
        pool.release(conn, reusable=conn.complete and conn.keep_alive)
        return b"".join(chunks).decode()

    first = await post()
    await asyncio.sleep(pause_s)
    second = await post()
    while pool.idle:
        pool.idle.pop().close()
    return first, second


def test_a_connection_idle_past_gunicorns_default_is_still_the_servers_with_the_launchers_keep_alive(gunicorn):
    pause = (GUNICORN_DEFAULT_KEEP_ALIVE_S + GATEWAY_EXPIRY_S) / 2  # after gunicorn's default, within the pool's
    kept = gunicorn("--keep-alive", str(UPSTREAM_KEEP_ALIVE_S))
    first, second = asyncio.run(two_posts(kept, pause))
    assert first == second, "the server kept the pooled connection: the second POST rode on it"
    # gunicorn's default closes it while the gateway still holds it as reusable (the window the 502 came from)
    closed = gunicorn()
    first, second = asyncio.run(two_posts(closed, pause))
    assert first != second
