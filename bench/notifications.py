"""Benchmark of notifications' webhooks and live stream (plain script, no timed assertions anywhere).

    .venv/bin/python bench/notifications.py [--events 500] [--rate 50]

Local mode (SQLite in a temporary folder), in one process, against a receiver on 127.0.0.1:
1. Webhook deliveries/s: N recorded deliveries sent by 8 worker threads through the real attempt
   (notifications.webhooks.tasks.deliver: claim, SSRF check, signed POST, record) against a bare HTTP POST loop of
   the same bodies to the same receiver with the same 8 threads (reference, same run); prints both and the ratio.
2. Event → webhook latency at a steady rate (default 50 events/s): each event goes through the consumer's
   handler (inbox row, delivery recorded) and its delivery is handed to the worker threads (in-process instead of
   the Celery broker hop); latency = the receiver's arrival time − the event's start. p50/p99 against the target
   (p99 ≤ 1 s).
3. Event → SSE latency at the same rate: reports.report.ready events through the consumer (the report-ready
   notification), a stream (notifications.inapp.stream.frames, as the view serves it) read in a thread; latency =
   the frame's time − the event's start. p50/p99 against the target (p99 ≤ 500 ms). The stream polls every
   NOTIFICATION_STREAM_POLL_SECONDS (0.25 s): that poll is most of this figure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services" / "notifications"))
sys.path.insert(0, str(REPO / "libs" / "servicekit"))
_tmp = Path(tempfile.mkdtemp(prefix="vo2-bench-notifications-"))
os.environ.update({"VO2_MODE": "local", "VO2_DATA_DIR": str(_tmp), "DJANGO_SETTINGS_MODULE": "notifications.settings",
                   "DATABASE_URL": f"sqlite:///{_tmp / 'bench.sqlite3'}", "WEBHOOK_DISPATCH": "none",
                   "LOG_LEVEL": "WARNING", "WEBHOOK_MAX_IN_FLIGHT": "8", "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex})
os.environ.setdefault("VO2_CONTRACTS_DIR", str(REPO / "contracts" / "events"))

import django  # noqa: E402

django.setup()
import logging  # noqa: E402

logging.disable(logging.WARNING)

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

THREADS = 8


class Receiver:
    def __init__(self):
        self.arrivals: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrivals[self.headers.get("webhook-id") or uuid.uuid4().hex] = time.monotonic()
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


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def setup(receiver):
    from servicekit.principal import Principal

    from notifications.webhooks import actions

    call_command("migrate", verbosity=0, interactive=False)
    tenant, user = str(uuid.uuid4()), str(uuid.uuid4())
    from servicekit.tenancy import tenant_transaction

    with tenant_transaction(tenant):
        actions.create_endpoint(Principal(user, tenant, frozenset({"owner"})), url=receiver.url, events=["reports.*"])
    return tenant, user


def report_ready(tenant, user):
    from servicekit.events import envelope

    data = {"report_id": str(uuid.uuid4()), "test_id": str(uuid.uuid4()), "athlete_id": str(uuid.uuid4()),
            "language": "en", "requested_by": user}
    return envelope.parse(json.dumps(envelope.make("reports.report.ready", data, source="/bench", tenant_id=tenant)))


def deliver(delivery_id, tenant):
    from notifications.webhooks import tasks

    try:
        return tasks.deliver.run(delivery_id, tenant, final=True)
    finally:
        connections.close_all()


def throughput(receiver, tenant, user, n):
    import httpx

    from servicekit.events import registry
    from servicekit.events.consumer import EventConsumer

    consumer = EventConsumer("notifications", registry.load())
    from notifications.webhooks.models import Delivery
    from servicekit.tenancy import tenant_transaction

    events = [report_ready(tenant, user) for _ in range(n)]
    for event in events:
        consumer.process(event)
    with tenant_transaction(tenant):
        ids = [str(d) for d in Delivery.objects.filter(event_id__in=[e.id for e in events]).values_list("id", flat=True)]
    bodies = [json.dumps(e.raw).encode() for e in events]

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(lambda i: deliver(i, tenant), ids))
    webhooks_s = len(ids) / (time.monotonic() - started)
    assert outcomes.count("done") == len(ids), outcomes[:5]

    local = threading.local()

    def bare(body):
        client = getattr(local, "client", None) or httpx.Client(timeout=10, trust_env=False)
        local.client = client
        client.post(receiver.url, content=body, headers={"Content-Type": "application/json"})

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(bare, bodies))
    bare_s = len(bodies) / (time.monotonic() - started)
    return webhooks_s, bare_s


def steady(receiver, tenant, user, n, rate):
    """Events at `rate`/s; returns (event→webhook latencies, event→SSE latencies) in seconds."""
    from servicekit.events import registry
    from servicekit.events.consumer import EventConsumer
    from servicekit.tenancy import tenant_transaction

    from notifications.inapp import stream
    from notifications.webhooks.models import Delivery

    consumer = EventConsumer("notifications", registry.load())
    started_at: dict[str, float] = {}
    by_notification: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()

    def read_stream():
        from django.conf import settings

        settings.NOTIFICATION_STREAM_MAX_SECONDS = n / rate + 30
        for frame in stream.frames(tenant, user, None):
            if frame.startswith("id: "):
                data = json.loads(frame.split("data: ", 1)[1])
                seen[data["data"]["report_id"]] = time.monotonic()
            if stop.is_set():
                break
        connections.close_all()

    reader = threading.Thread(target=read_stream, daemon=True)
    reader.start()
    time.sleep(1.0)
    pool = ThreadPoolExecutor(THREADS)
    interval = 1.0 / rate
    next_at = time.monotonic()
    for _ in range(n):
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        event = report_ready(tenant, user)
        t0 = time.monotonic()
        started_at[event.id] = t0
        by_notification[event.data["report_id"]] = t0
        consumer.process(event)
        with tenant_transaction(tenant):
            for delivery in Delivery.objects.filter(event_id=event.id):
                pool.submit(deliver, str(delivery.id), tenant)
    pool.shutdown(wait=True)
    deadline = time.monotonic() + 10
    while len(seen) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    webhook = [receiver.arrivals[e] - t for e, t in started_at.items() if e in receiver.arrivals]
    sse = [seen[r] - t for r, t in by_notification.items() if r in seen]
    return webhook, sse, len(started_at)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    receiver = Receiver()
    tenant, user = setup(receiver)
    webhooks_s, bare_s = throughput(receiver, tenant, user, args.events)
    print(f"webhook deliveries/s ({THREADS} threads, local SQLite): {webhooks_s:8.1f}")
    print(f"bare HTTP POST loop/s (same receiver, same threads):   {bare_s:8.1f}   ratio {webhooks_s / bare_s:.2f}")
    webhook, sse, sent = steady(receiver, tenant, user, args.events, args.rate)
    print(f"steady {args.rate:g} events/s, {sent} events:")
    print(f"  event -> webhook: {len(webhook)}/{sent} delivered, p50 {pct(webhook, 50):6.1f} ms, "
          f"p99 {pct(webhook, 99):6.1f} ms (target p99 <= 1000 ms)")
    print(f"  event -> SSE:     {len(sse)}/{sent} streamed,  p50 {pct(sse, 50):6.1f} ms, "
          f"p99 {pct(sse, 99):6.1f} ms (target p99 <= 500 ms)")


if __name__ == "__main__":
    main()
