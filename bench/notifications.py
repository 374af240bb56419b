"""Benchmark of notifications' webhooks and live stream, in both modes (plain script, no timed assertions anywhere).

    .venv/bin/python bench/notifications.py [--mode both|local|saas] [--events 500] [--rate 50] [--code DIR]

Each mode runs in a process of its own, on its own servers: local = SQLite + the kit's filesystem broker in a
temporary folder; saas = a PostgreSQL database of its own on the shared server, a private RabbitMQ node (the events
of the bench must not reach other systems' queues on the shared broker) and the shared Redis. `--code DIR` measures
another checkout's services (e.g. an export of an older commit: the "before" figures) with this same script.

1. Webhook deliveries/s: N recorded deliveries sent by 8 threads through the real attempt
   (notifications.webhooks.tasks.deliver: claim, SSRF check, signed POST, record) against a bare HTTP POST loop of
   the same bodies to the same receiver with the same 8 threads (the reference, same run); prints both and the ratio.
2. The whole path at a steady rate (default 50 events/s): each event is written to an outbox in a transaction (as
   reports does); the kit's relay publishes it, the kit's consumer (as `run_consumer` runs it) handles it, the
   delivery goes through a real Celery worker process (the pool the measured code's app sets: threads; an older
   checkout's prefork with 2 children as compose ran it, solo in local mode as the launcher did) to a receiver on
   127.0.0.1, and the report-ready notification reaches a live stream
   (written on an event loop by notifications.inapp.live, as notifications.asgi serves it; an older checkout's
   stream.frames on a thread). Latency = arrival − the event's commit, p50/p99
   against the targets (event → webhook p99 ≤ 1 s, event → SSE p99 ≤ 500 ms), and the SQL statements the
   consumer's connection ran per event (it takes events in batches where the measured code does).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
THREADS = 8


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


class Receiver:
    def __init__(self):
        self.arrivals: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrivals.setdefault(self.headers.get("webhook-id") or uuid.uuid4().hex, time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# ---- one mode, in this process ------------------------------------------------------------------------------------

def prepare_environment(mode: str, code: Path, tmp: Path) -> dict:
    """Environment for the service (this process and its worker); returns what to clean up."""
    service = code / "services" / "notifications"
    sys.path[:0] = [str(service), str(code / "libs" / "servicekit")]
    env = {"VO2_MODE": mode, "VO2_DATA_DIR": str(tmp), "DJANGO_SETTINGS_MODULE": "notifications.settings",
           "LOG_LEVEL": "WARNING", "WEBHOOK_MAX_IN_FLIGHT": "8", "WEBHOOK_PUBLIC_ONLY": "false",
           "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex, "VO2_CONTRACTS_DIR": str(code / "contracts" / "events"),
           "PYTHONPATH": os.pathsep.join([str(service), str(code / "libs" / "servicekit")]),
           "NOTIFICATIONS_PERIODIC_IN_WORKER": "false"}
    cleanup = {}
    if mode == "local":
        env.update({"DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "BROKER_URL": "filesystem://",
                    "VO2_BROKER_DIR": str(tmp / "broker")})
    else:
        testing = this_kit_testing()  # the private node's helper, whichever checkout is measured
        from servicekit.pgroles import provision

        rabbit = testing.PrivateRabbitMQ(tmp / "rabbitmq").start()
        cleanup["rabbit"] = rabbit
        database = f"vo2_bench_notifications_{uuid.uuid4().hex[:8]}"
        provision(testing.POSTGRES_ADMIN_DSN, database, "vo2_bench_owner", "vo2_bench_app", "vo2-bench", recreate=True)
        cleanup["database"] = database
        env.update({"DATABASE_URL": f"postgresql://vo2_bench_app:vo2-bench@127.0.0.1:5432/{database}",
                    "DATABASE_MIGRATE_URL": f"postgresql://vo2_bench_owner:vo2-bench@127.0.0.1:5432/{database}",
                    "BROKER_URL": rabbit.url, "REDIS_URL": testing.REDIS_URL})
    os.environ.update(env)
    migrate_env = {**os.environ, "DATABASE_URL": env.get("DATABASE_MIGRATE_URL", env["DATABASE_URL"])}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=service, env=migrate_env, check=True)
    cleanup["env"] = env
    return cleanup


def this_kit_testing():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_kit_testing",
                                                  HERE / "libs" / "servicekit" / "servicekit" / "testing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def finish(cleanup: dict) -> None:
    if "rabbit" in cleanup:
        cleanup["rabbit"].stop()
    if "database" in cleanup:
        import psycopg
        from psycopg import sql

        testing = this_kit_testing()
        with psycopg.connect(testing.POSTGRES_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(cleanup["database"])))


def deliver(delivery_id, tenant):
    from django.db import connections

    from notifications.webhooks import tasks

    try:
        return tasks.deliver.run(delivery_id, tenant, final=True)
    finally:
        connections.close_all()


def report_ready_data(user):
    return {"report_id": str(uuid.uuid4()), "test_id": str(uuid.uuid4()), "athlete_id": str(uuid.uuid4()),
            "language": "en", "requested_by": user}


def throughput(receiver, tenant, user, n):
    import httpx
    from django.conf import settings

    from servicekit.events import envelope, registry
    from servicekit.events.consumer import EventConsumer
    from servicekit.tenancy import tenant_transaction

    from notifications.webhooks.models import Delivery

    settings.WEBHOOK_DISPATCH = "none"  # this part drives the attempts itself
    consumer = EventConsumer("notifications", registry.load())
    events = [envelope.parse(json.dumps(envelope.make("reports.report.ready", report_ready_data(user),
                                                      source="/bench", tenant_id=tenant))) for _ in range(n)]
    for event in events:
        consumer.process(event)
    with tenant_transaction(tenant):
        ids = [str(d) for d in Delivery.objects.filter(event_id__in=[e.id for e in events]).values_list("id", flat=True)]
    bodies = [json.dumps(e.raw).encode() for e in events]
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(lambda i: deliver(i, tenant), ids))
    webhooks_s = len(ids) / (time.monotonic() - started)
    if outcomes.count("done") != len(ids):
        with tenant_transaction(tenant):
            why = [d.problem for d in Delivery.objects.filter(id__in=ids).exclude(status="done")[:3]]
        raise AssertionError(f"not every delivery done: {Counter(outcomes)}; {why}")
    local = threading.local()

    def bare(body):
        client = getattr(local, "client", None) or httpx.Client(timeout=10, trust_env=False)
        local.client = client
        client.post(receiver.url, content=body, headers={"Content-Type": "application/json"})

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(bare, bodies))
    bare_s = len(bodies) / (time.monotonic() - started)
    settings.WEBHOOK_DISPATCH = "celery"
    return webhooks_s, bare_s


def start_worker(mode: str, code: Path, tmp: Path) -> subprocess.Popen:
    from notifications.celery import app

    # the pool the measured code runs: its app's own (threads) where it sets one, as the launcher and compose then
    # run it; else solo in local mode (the launcher's) and prefork with 2 children in SaaS (compose's)
    own = app.conf.worker_pool == "threads"
    pool = [] if own else (["--pool", "solo"] if mode == "local" else ["--concurrency", "2"])
    log = tmp / "worker.log"
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "notifications.celery", "worker", "-Q",
                             os.environ.get("NOTIFICATIONS_QUEUE", "notifications.tasks"), "-n",
                             f"bench-{uuid.uuid4().hex[:6]}@%h", "--without-mingle", "--without-gossip", "-l", "INFO",
                             *pool], cwd=code / "services" / "notifications", env={**os.environ, "LOG_LEVEL": "INFO"},
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while b" ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.1)
    return proc


def steady(mode, code, tmp, receiver, tenant, user, n, rate):
    from django.db import connections
    from django.conf import settings

    from servicekit.events import publish, registry
    from servicekit.events.consumer import EventConsumer
    from servicekit.events.relay import Relay
    from servicekit.tenancy import tenant_transaction

    from notifications.inapp import stream

    worker = start_worker(mode, code, tmp)
    relay = Relay()
    consumer = EventConsumer("notifications", registry.load())
    ready = threading.Event()
    statements = [0]  # every SQL statement the consumer's connection runs (BEGIN/COMMIT included where Django sends them)

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    def consume():
        from django.db import connection

        with connection.execute_wrapper(count):
            consumer.run(ready=ready)

    loops = [threading.Thread(target=relay.run, daemon=True), threading.Thread(target=consume, daemon=True)]
    for loop in loops:
        loop.start()
    assert ready.wait(60), "the consumer did not start"
    committed: dict[str, float] = {}       # event id -> commit time
    by_report: dict[str, str] = {}         # report id -> event id
    seen: dict[str, float] = {}            # report id -> time on the stream
    stop = threading.Event()
    settings.NOTIFICATION_STREAM_MAX_SECONDS = n / rate + 60

    def on_frame(frame: str) -> None:
        if frame.startswith("id: ") and "event: notification" in frame:
            data = json.loads(frame.split("data: ", 1)[1])
            seen.setdefault(data["data"]["report_id"], time.monotonic())

    def read_stream():  # the stream on a request thread (stream.frames), as an older checkout serves it
        for frame in stream.frames(tenant, user, None):
            on_frame(frame)
            if stop.is_set():
                break
        connections.close_all()

    def read_stream_on_a_loop(live):  # as notifications.asgi serves it: the body written on an event loop
        import asyncio

        async def main():
            buffer = [""]

            async def send(message):
                buffer[0] += message.get("body", b"").decode()
                while "\n\n" in buffer[0]:
                    frame, buffer[0] = buffer[0].split("\n\n", 1)
                    on_frame(frame + "\n\n")

            async def receive():
                while not stop.is_set():
                    await asyncio.sleep(0.1)
                return {"type": "http.disconnect"}

            await live.produce(send, receive, tenant_id=tenant, user_id=user, last_event_id=None)

        asyncio.run(main())

    try:
        from notifications.inapp import live
    except ImportError:
        live = None
    threading.Thread(target=read_stream if live is None else lambda: read_stream_on_a_loop(live), daemon=True).start()
    try:
        from notifications.inapp import fanout  # this checkout's wake-ups (none in an older one)

        deadline = time.monotonic() + 20
        while not fanout.hub.live() and time.monotonic() < deadline:
            time.sleep(0.05)
    except ImportError:
        pass
    time.sleep(1.0)
    interval, next_at = 1.0 / rate, time.monotonic()
    for _ in range(n):
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        data = report_ready_data(user)
        with tenant_transaction(tenant):
            event_id = publish("reports.report.ready", data, tenant_id=tenant)
        committed[event_id] = time.monotonic()
        by_report[data["report_id"]] = event_id
    deadline = time.monotonic() + 30
    while (len(seen) < n or sum(e in receiver.arrivals for e in committed) < n) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    relay.stopping.set()
    consumer.stopping.set()
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
    webhook = [receiver.arrivals[e] - t for e, t in committed.items() if e in receiver.arrivals]
    sse = [seen[r] - committed[e] for r, e in by_report.items() if r in seen]
    return webhook, sse, statements[0] / max(1, consumer.stats["handled"])  # per event it handled


def run_mode(mode: str, code: Path, events: int, rate: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"vo2-bench-notifications-{mode}-"))
    cleanup = prepare_environment(mode, code, tmp)
    try:
        import django

        django.setup()
        import logging

        logging.disable(logging.WARNING)
        from servicekit.principal import Principal
        from servicekit.tenancy import tenant_transaction

        from notifications.webhooks import actions

        receiver = Receiver()
        tenant, user = str(uuid.uuid4()), str(uuid.uuid4())
        with tenant_transaction(tenant):
            actions.create_endpoint(Principal(user, tenant, frozenset({"owner"})), url=receiver.url,
                                    events=["reports.*"])
        webhooks_s, bare_s = throughput(receiver, tenant, user, events)
        webhook, sse, per_event = steady(mode, code, tmp, receiver, tenant, user, events, rate)
        return {"mode": mode, "deliveries_s": webhooks_s, "bare_s": bare_s, "events": events, "rate": rate,
                "webhook_n": len(webhook), "webhook_p50": pct(webhook, 50), "webhook_p99": pct(webhook, 99),
                "sse_n": len(sse), "sse_p50": pct(sse, 50), "sse_p99": pct(sse, 99),
                "consumer_statements_per_event": per_event,
                "load": os.getloadavg()[0]}
    finally:
        finish(cleanup)


def show(r: dict) -> None:
    print(f"[{r['mode']}] webhook deliveries/s ({THREADS} threads): {r['deliveries_s']:7.1f}   bare POST loop/s: "
          f"{r['bare_s']:7.1f}   ratio {r['deliveries_s'] / r['bare_s']:.2f}")
    print(f"[{r['mode']}] steady {r['rate']:g} events/s, {r['events']} events (load {r['load']:.1f}):")
    print(f"[{r['mode']}]   consumer: {r['consumer_statements_per_event']:.2f} SQL statements per event")
    print(f"[{r['mode']}]   event -> webhook: {r['webhook_n']}/{r['events']} delivered, p50 {r['webhook_p50']:6.1f} ms, "
          f"p99 {r['webhook_p99']:6.1f} ms (target p99 <= 1000 ms)")
    print(f"[{r['mode']}]   event -> SSE:     {r['sse_n']}/{r['events']} streamed,  p50 {r['sse_p50']:6.1f} ms, "
          f"p99 {r['sse_p99']:6.1f} ms (target p99 <= 500 ms)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("both", "local", "saas"), default="both")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--code", type=Path, default=HERE, help="the checkout whose services are measured")
    parser.add_argument("--json", action="store_true", help="one JSON line per mode (for a caller)")
    args = parser.parse_args()
    if args.mode == "both":
        for mode in ("local", "saas"):
            subprocess.run([sys.executable, __file__, "--mode", mode, "--events", str(args.events), "--rate",
                            str(args.rate), "--code", str(args.code)] + (["--json"] if args.json else []), check=True)
        return
    result = run_mode(args.mode, args.code.resolve(), args.events, args.rate)
    print(json.dumps(result) if args.json else "", flush=True)
    if not args.json:
        show(result)
    os._exit(0)  # daemon loops and the stream thread need no orderly end


if __name__ == "__main__":
    main()
