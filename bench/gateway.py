"""Gateway benchmark: the same endpoint called directly and through the gateway, at 1 and 32 clients, in one run.

    .venv/bin/python bench/gateway.py [--upstream echo measurements] [--duration 4] [--rounds 5]

Two upstreams, each measured directly and through one gateway per upstream client (UPSTREAM_TRANSPORT):
- `measurements` — a real endpoint: the measurements service (Django + DRF, local mode: SQLite, token verified by the
  service itself) under gunicorn as `./vo2 up` runs it but with one worker, `GET /api/v1/athletes/?limit=20` over
  20 seeded athletes of the bench tenant. This is what a client of ours pays for the gateway.
- `echo` — the worst case: a raw ASGI app under uvicorn that answers a fixed JSON body and does nothing else, so
  the gateway's own work (a server and a client in one process, token check, limits, logs) is all that differs.
  `--upstream-cmd "... {port} ..."` replaces it with any command (and `--path` sets the path).
Everything runs on loopback, one process per server. Load comes from a separate process (aiohttp client, N
concurrent keep-alive connections, bounded by time and request count); direct and gateway runs are interleaved over
several rounds so that load from elsewhere on the machine hits both alike. The table shows medians over rounds; the
targets are medians over rounds of per-round figures (each gateway run against the direct run of its own round):
through-gateway/direct at 32 clients (target >= 50 %), 32-vs-1 throughput through the gateway (target >= 1), and the
p50 added by the gateway at 1 client, from one client that alternates its requests between direct and gateway so both
see the same moments of the machine (target <= 1 ms).
Token check and rate limits stay on (limits set out of reach; --redis URL for SaaS-mode counters) so their cost is
measured.
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


async def _alternate(urls: list[str], duration: float, token: str | None, warmup: float) -> dict:
    """One client, one request at a time, taking the URLs in turn: every target sees the same moments of the
    machine, so the difference of their latencies is the gateway's and not the machine's drift."""
    import aiohttp

    headers = {"authorization": f"Bearer {token}"} if token else {}
    latencies: dict[str, list[float]] = {url: [] for url in urls}
    async with aiohttp.ClientSession(headers=headers) as session:
        async def one(url) -> float:
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url}: {response.status}")
            return time.perf_counter() - started

        warm_until = time.perf_counter() + warmup
        while time.perf_counter() < warm_until:
            for url in urls:
                await one(url)
        stop_at = time.perf_counter() + duration
        while time.perf_counter() < stop_at:
            for url in urls:
                latencies[url].append(await one(url))
    return {url: sorted(values)[len(values) // 2] * 1000 for url, values in latencies.items()}


def run_alternating(urls: list[str], duration: float, token: str | None, warmup: float) -> dict:
    cmd = [PYTHON, __file__, "--alternate", *urls, "--duration", str(duration), "--warmup", str(warmup)]
    env = dict(os.environ, BENCH_TOKEN=token or "")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_client(url: str, concurrency: int, duration: float, max_requests: int, token: str | None,
               warmup: float) -> dict:
    cmd = [PYTHON, __file__, "--client", url, "--concurrency", str(concurrency), "--duration", str(duration),
           "--max-requests", str(max_requests), "--warmup", str(warmup)]
    env = dict(os.environ, BENCH_TOKEN=token or "")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- upstreams
def start_echo(tmp: Path, keys, args) -> tuple[subprocess.Popen, str, str, str]:
    """The do-nothing upstream (or --upstream-cmd): (process, base URL, path, bearer token)."""
    port = free_port()
    if args.upstream_cmd:
        cmd = shlex.split(args.upstream_cmd.format(port=port))
    else:
        (tmp / "bench_upstream.py").write_text(UPSTREAM_APP)
        cmd = [PYTHON, "-m", "uvicorn", "bench_upstream:app", "--app-dir", str(tmp), "--host", "127.0.0.1",
               "--port", str(port), "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + args.path, proc)
    print(f"upstream echo: {' '.join(cmd)}", flush=True)
    return proc, base, args.path, keys.token(tid="bench-tenant", sub="bench-user", lifetime=3600)


def start_measurements(tmp: Path, keys, args) -> tuple[subprocess.Popen, str, str, str]:
    """The measurements service in local mode, migrated, with 20 athletes of one tenant; one gunicorn worker."""
    import uuid

    import httpx

    service_dir = ROOT / "services" / "measurements"
    env = dict(os.environ, VO2_MODE="local", VO2_DATA_DIR=str(tmp / "measurements"), JWT_JWKS_URL=keys.jwks_url,
               DJANGO_SETTINGS_MODULE="measurements.settings", LOG_LEVEL="WARNING",
               PYTHONPATH=os.pathsep.join([str(ROOT / "libs" / "servicekit"), str(service_dir)]))
    for name in ("DATABASE_URL", "DATABASE_MIGRATE_URL", "BROKER_URL", "REDIS_URL"):
        env.pop(name, None)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=service_dir, env=env, check=True)
    port = free_port()
    cmd = [PYTHON, "-m", "gunicorn", "measurements.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
           "--threads", "4", "--worker-class", "gthread", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=service_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz", proc)
    token = keys.token(tid=str(uuid.uuid4()), sub=str(uuid.uuid4()), roles=("physiologist",), lifetime=3600)
    with httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}) as client:
        for i in range(20):
            client.post("/api/v1/athletes/", json={
                "first_name": f"Athlete {i}", "last_name": "Bench", "sex": "female" if i % 2 else "male",
                "birth_date": f"{1980 + i}-05-17", "height_cm": 160 + i, "body_mass_kg": 55 + i,
                "sport": "cycling"}).raise_for_status()
    path = "/api/v1/athletes/?limit=20"
    print(f"upstream measurements: {' '.join(cmd)} (local mode, SQLite, 20 athletes)", flush=True)
    return proc, base, path, token


UPSTREAMS = {"measurements": start_measurements, "echo": start_echo}


# ---------------------------------------------------------------- orchestration
def start_gateway(transport: str, upstream_url: str, keys, args) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # METRICS_PORT as in every deployment (the metrics are recorded either way; tracing stays off: no OTLP endpoint)
    env = dict(os.environ, VO2_MODE="local", UPSTREAM_TRANSPORT=transport, JWT_JWKS_URL=keys.jwks_url,
               METRICS_PORT=str(free_port()),
               ACCESS_LOG=args.access_log, RATE_LIMIT_IP="1000000000", RATE_LIMIT_USER="1000000000",
               RATE_LIMIT_TENANT="1000000000", **{f"{args.upstream_service.upper()}_URL": upstream_url})
    env.pop("REDIS_URL", None)
    if args.redis:
        env.update(REDIS_URL=args.redis, RATE_LIMIT_PREFIX=f"vo2bench:{os.getpid()}:")
    proc = subprocess.Popen(
        [PYTHON, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=ROOT / "gateway", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc, f"http://127.0.0.1:{port}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind: str, tmp: Path, keys, args) -> list[tuple[str, int, dict]]:
    procs: list[subprocess.Popen] = []
    results: list[tuple[str, int, dict]] = []
    transports = args.transports if kind == "echo" else args.transports[:1]  # the client choice shows on echo
    pids: dict[str, int] = {}
    try:
        upstream, base, path, token = UPSTREAMS[kind](tmp, keys, args)
        procs.append(upstream)
        targets = [("direct", base + path)]
        for transport in transports:  # every gateway up front (idle ones cost nothing), then interleave
            gw, gw_base = start_gateway(transport, base, keys, args)
            procs.append(gw)
            targets.append((f"gateway/{transport}", gw_base + path))
            pids[f"gateway/{transport}"] = gw.pid
        for round_no in range(1, args.rounds + 1):
            p50s = run_alternating([url for _, url in targets], args.duration, token, args.warmup)
            for label, url in targets:
                results.append((label, "alternating", {"p50": p50s[url]}))
            print(f"  round {round_no} {kind:<12} one client, requests alternating: "
                  + ", ".join(f"{label} p50 {p50s[url]:.2f} ms" for label, url in targets), flush=True)
            for c in args.concurrency:
                for label, url in targets:
                    used = cpu_seconds(pids[label]) if label in pids else None
                    r = run_client(url, c, args.duration, args.max_requests, token, args.warmup)
                    if used is not None:  # the gateway's own CPU per counted request (warm-up included: an upper bound)
                        r["cpu_us"] = (cpu_seconds(pids[label]) - used) / max(1, r["requests"]) * 1e6
                    if r["errors"]:
                        raise RuntimeError(f"{label}: {r['errors']} failed requests")
                    results.append((label, c, r))
                    print(f"  round {round_no} {kind:<12} {label:<22} c={c:<3} {r['rps']:8.0f} req/s  "
                          f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  ({r['requests']} requests)", flush=True)
    finally:
        for proc in procs:
            stop(proc)
    return results


def report(kind: str, results: list[tuple[str, int, dict]], args) -> None:
    import statistics

    agg: dict[tuple[str, int], dict] = {}
    alternating = [(label, r) for label, c, r in results if c == "alternating"]
    results = [(label, c, r) for label, c, r in results if c != "alternating"]
    for label, c, r in results:
        agg.setdefault((label, c), {"rps": [], "p50": [], "p99": []})
        for k in ("rps", "p50", "p99"):
            agg[(label, c)][k].append(r[k])
    med = {key: {k: statistics.median(v) for k, v in vals.items()} for key, vals in agg.items()}
    lo, hi = min(args.concurrency), max(args.concurrency)
    print(f"\n### upstream: {kind} — median of {args.rounds} round(s), {args.duration:g} s each\n")
    print("| target | clients | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|")
    for (label, c), m in med.items():
        print(f"| {label} | {c} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} |")
    print()
    # The headline figures pair each gateway run with the direct run of the same round (taken seconds apart), then
    # take the median over rounds: a round in which the machine was slow for both cancels out.
    by_round = {(label, c): [r for lab, cc, r in results if lab == label and cc == c] for label, c in med}
    for label in dict.fromkeys(label for label, _ in med if label != "direct"):
        ratios = [g["rps"] / d["rps"] for g, d in zip(by_round[(label, hi)], by_round[("direct", hi)])]
        scaling = [g_hi["rps"] / g_lo["rps"] for g_hi, g_lo in zip(by_round[(label, hi)], by_round[(label, lo)])]
        added = [g["p50"] - d["p50"] for g, d in zip([r for lab, r in alternating if lab == label],
                                                      [r for lab, r in alternating if lab == "direct"])]
        print(f"{kind:>12} {label:>22}: gateway/direct at {hi} clients = {statistics.median(ratios):6.1%} "
              f"(rounds {min(ratios):.0%}–{max(ratios):.0%}; target >= 50 %); "
              f"{hi}-vs-{lo} throughput = {statistics.median(scaling):4.2f}x (target >= 1); "
              f"added p50 at 1 client (requests alternating) = {statistics.median(added):5.2f} ms (target <= 1 ms)")
        cpu = [r["cpu_us"] for r in by_round[(label, hi)] if "cpu_us" in r]
        if cpu:  # steadier than throughput on a loaded machine: what one request costs the gateway process
            print(f"{kind:>12} {label:>22}: gateway CPU per request at {hi} clients = {statistics.median(cpu):.0f} µs "
                  f"(rounds {min(cpu):.0f}–{max(cpu):.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", nargs="*", default=["measurements", "echo"], choices=sorted(UPSTREAMS))
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are reported")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 32])
    parser.add_argument("--transports", nargs="*", default=["native", "aiohttp", "httpx-aiohttp", "httpx"],
                        help="gateway upstream clients; the first is the one used for the measurements upstream")
    parser.add_argument("--upstream-cmd", default=None,
                        help="echo upstream: a command starting it on {port} instead of the built-in app")
    parser.add_argument("--path", default="/api/v1/athletes/ping", help="echo upstream: the path (gateway-routed)")
    parser.add_argument("--upstream-service", default="measurements", help="which *_URL the upstream stands for")
    parser.add_argument("--access-log", default="true", help="gateway ACCESS_LOG (logs go to /dev/null)")
    parser.add_argument("--redis", default=None, metavar="URL",
                        help="rate-limit counters in this Redis (SaaS mode) instead of in-process")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--alternate", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.client or args.alternate:  # we are the load-generating process
        try:
            import uvloop
            uvloop.install()
        except ImportError:
            pass
        token = os.environ.get("BENCH_TOKEN") or None
        if args.alternate:
            result = asyncio.run(_alternate(args.alternate, args.duration, token, args.warmup))
        else:
            result = asyncio.run(_load(args.client, args.concurrency[0], args.duration, args.max_requests, token,
                                       args.warmup))
        print(json.dumps(result))
        return

    sys.path.insert(0, str(ROOT / "libs" / "servicekit"))
    from servicekit.testing import SigningKeys

    tmp = Path(tempfile.mkdtemp(prefix="vo2-bench-gateway-"))
    keys = SigningKeys(tmp / "keys")
    print(f"rate limits: {args.redis or 'in-process'}; CPUs: {os.cpu_count()}; "
          f"load average at start: {os.getloadavg()[0]:.2f}\n", flush=True)
    measured = [(kind, measure(kind, tmp, keys, args)) for kind in args.upstream]
    print(f"\nloopback, one server process each; load average at end: {os.getloadavg()[0]:.2f}")
    for kind, results in measured:
        report(kind, results, args)


if __name__ == "__main__":
    main()
