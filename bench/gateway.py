"""Gateway benchmark: the same endpoint called directly and through the gateway, for each upstream transport.

    .venv/bin/python bench/gateway.py [--duration 5] [--upstream-cmd "..."] [--path /api/v1/athletes/ping]

Starts (loopback only, one uvicorn worker each) a trivial JSON upstream — or any command given with --upstream-cmd,
e.g. a real Django service under gunicorn; `{port}` is replaced by the port — and one gateway per upstream transport
(UPSTREAM_TRANSPORT=native, aiohttp, httpx-aiohttp, httpx). Load comes from a separate process (aiohttp client, N
concurrent connections, bounded by time and request count, stops by itself), interleaving direct and gateway runs
over several rounds. Prints requests/s, p50 and p99 (medians over rounds), and the ratios: through-gateway/direct at
32 clients, 32-vs-1 throughput through the gateway, and p50 added by the gateway at 1 client.
Token check and rate limits stay on (limits set out of reach; --redis URL for SaaS-mode counters) so their cost is
measured. Example with a real service: --upstream-cmd "gunicorn -b 127.0.0.1:{port} -w 1 config.wsgi" --path ...
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

UPSTREAM_APP = '''
import json
BODY = json.dumps({"id": "a1b2c3", "name": "Test Athlete", "vo2max": 61.3, "zones": [1, 2, 3, 4, 5]}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(url)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- load client (runs in its own process)
async def _load(url: str, concurrency: int, duration: float, max_requests: int, token: str | None,
                warmup: float) -> dict:
    import aiohttp

    headers = {"authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        async def one() -> bool:
            async with session.get(url) as response:
                await response.read()
                return response.status == 200

        # warm-up: open the connections, fill caches
        warm_until = time.perf_counter() + warmup
        async def warm():
            while time.perf_counter() < warm_until:
                await one()
        await asyncio.gather(*(warm() for _ in range(concurrency)))

        stop_at = time.perf_counter() + duration
        budget = [max_requests]

        async def worker():
            nonlocal errors
            while budget[0] > 0 and time.perf_counter() < stop_at:
                budget[0] -= 1
                started = time.perf_counter()
                try:
                    ok = await one()
                except aiohttp.ClientError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                if not ok:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    n = len(latencies)
    pct = lambda q: latencies[min(n - 1, int(q * n))] * 1000 if n else float("nan")  # noqa: E731
    return {"requests": n, "errors": errors, "rps": n / elapsed if elapsed else 0.0, "p50": pct(0.50),
            "p99": pct(0.99)}


def run_client(url: str, concurrency: int, duration: float, max_requests: int, token: str | None,
               warmup: float) -> dict:
    cmd = [PYTHON, __file__, "--client", url, "--concurrency", str(concurrency), "--duration", str(duration),
           "--max-requests", str(max_requests), "--warmup", str(warmup)]
    env = dict(os.environ, BENCH_TOKEN=token or "")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- orchestration
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 32])
    parser.add_argument("--transports", nargs="*", default=["native", "aiohttp", "httpx-aiohttp", "httpx"])
    parser.add_argument("--upstream-cmd", default=None,
                        help="command starting the upstream on {port} (default: a minimal uvicorn JSON app)")
    parser.add_argument("--path", default="/api/v1/athletes/ping", help="upstream path (routed by the gateway)")
    parser.add_argument("--upstream-service", default="measurements", help="which *_URL the upstream stands for")
    parser.add_argument("--access-log", default="true", help="gateway ACCESS_LOG (logs go to /dev/null)")
    parser.add_argument("--redis", default=None, metavar="URL",
                        help="rate-limit counters in this Redis (SaaS mode) instead of in-process")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.client:  # we are the load-generating process
        try:
            import uvloop
            uvloop.install()
        except ImportError:
            pass
        result = asyncio.run(_load(args.client, args.concurrency[0], args.duration, args.max_requests,
                                   os.environ.get("BENCH_TOKEN") or None, args.warmup))
        print(json.dumps(result))
        return

    sys.path.insert(0, str(ROOT / "libs" / "servicekit"))
    from servicekit.testing import SigningKeys

    tmp = Path(tempfile.mkdtemp(prefix="vo2-bench-gateway-"))
    keys = SigningKeys(tmp / "keys")
    token = keys.token(tid="bench-tenant", sub="bench-user", lifetime=3600)
    procs: list[subprocess.Popen] = []
    results: list[tuple[str, int, dict]] = []
    try:
        up_port = free_port()
        if args.upstream_cmd:
            cmd = shlex.split(args.upstream_cmd.format(port=up_port))
        else:
            (tmp / "bench_upstream.py").write_text(UPSTREAM_APP)
            cmd = [PYTHON, "-m", "uvicorn", "bench_upstream:app", "--app-dir", str(tmp), "--host", "127.0.0.1",
                   "--port", str(up_port), "--no-access-log", "--log-level", "warning"]
        upstream = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(upstream)
        up_url = f"http://127.0.0.1:{up_port}"
        wait_http(up_url + args.path, upstream)

        print(f"upstream: {' '.join(cmd)}\npath: {args.path}\nrate limits: {args.redis or 'in-process'}; "
              f"CPUs: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.2f}\n", flush=True)
        targets = [("direct", up_url + args.path)]
        for transport in args.transports:  # every gateway up front (idle ones cost nothing), then interleave
            gw_port = free_port()
            env = dict(os.environ, VO2_MODE="local", UPSTREAM_TRANSPORT=transport,
                       JWT_JWKS_URL=keys.jwks_url, ACCESS_LOG=args.access_log,
                       RATE_LIMIT_IP="1000000000", RATE_LIMIT_USER="1000000000", RATE_LIMIT_TENANT="1000000000",
                       **{f"{args.upstream_service.upper()}_URL": up_url})
            env.pop("REDIS_URL", None)
            if args.redis:
                env.update(REDIS_URL=args.redis, RATE_LIMIT_PREFIX=f"vo2bench:{os.getpid()}:")
            gw = subprocess.Popen(
                [PYTHON, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1", "--port", str(gw_port),
                 "--no-access-log", "--log-level", "warning"],
                cwd=ROOT / "gateway", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(gw)
            wait_http(f"http://127.0.0.1:{gw_port}/healthz", gw)
            targets.append((f"gateway/{transport}", f"http://127.0.0.1:{gw_port}{args.path}"))
        # Rounds interleave direct and gateway runs so that load from other processes on the machine hits them
        # alike; the figures are the median over rounds.
        for round_no in range(1, args.rounds + 1):
            for c in args.concurrency:
                for label, url in targets:
                    r = run_client(url, c, args.duration, args.max_requests, token, args.warmup)
                    results.append((label, c, r))
                    print(f"  round {round_no} {label:<22} c={c:<3} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms"
                          f"  p99 {r['p99']:6.2f} ms  ({r['requests']} requests, {r['errors']} errors)", flush=True)
    finally:
        for proc in procs:
            stop(proc)

    # ---- table and ratios (medians over rounds)
    import statistics

    agg: dict[tuple[str, int], dict] = {}
    for label, c, r in results:
        agg.setdefault((label, c), {"rps": [], "p50": [], "p99": []})
        for k in ("rps", "p50", "p99"):
            agg[(label, c)][k].append(r[k])
    med = {key: {k: statistics.median(v) for k, v in vals.items()} for key, vals in agg.items()}
    print(f"\nmedian of {args.rounds} round(s), {args.duration:g} s each, loopback, one uvicorn worker each; "
          f"load average at end: {os.getloadavg()[0]:.2f}")
    print("| target | clients | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|")
    for (label, c), m in med.items():
        print(f"| {label} | {c} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} |")
    lo, hi = min(args.concurrency), max(args.concurrency)
    d_lo, d_hi = med[("direct", lo)], med[("direct", hi)]
    print()
    for transport in args.transports:
        g_lo, g_hi = med[(f"gateway/{transport}", lo)], med[(f"gateway/{transport}", hi)]
        print(f"{transport:>13}: gateway/direct at {hi} clients = {g_hi['rps'] / d_hi['rps']:6.1%} (target >= 50 %); "
              f"{hi}-vs-{lo} throughput = {g_hi['rps'] / g_lo['rps']:4.2f}x (target >= 1); "
              f"added p50 at {lo} client = {g_lo['p50'] - d_lo['p50']:5.2f} ms (target <= 1 ms)")


if __name__ == "__main__":
    main()
