"""Event bus benchmark: outbox → relay (publisher confirms) → RabbitMQ → consumer, against kombu publishing the
same messages directly without confirms (same run).

    .venv/bin/python bench/events.py [--events 5000] [--rate 100] [--seconds 10] [--broker amqp://guest:guest@127.0.0.1:5672//]

Uses a throw-away PostgreSQL database (postgres superuser on 127.0.0.1, trust) with the notifications service's
settings and the kit's events tables. Targets: relay lag p99 ≤ 1 s at 100 events/s; relay throughput ≥ 25 % of
unconfirmed direct publishing.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "services" / "notifications"


def setup(broker_url: str, pg_admin: str) -> str:
    database = f"vo2_bench_events_{uuid.uuid4().hex[:6]}"
    sys.path[:0] = [str(SERVICE), str(ROOT / "libs" / "servicekit")]
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "notifications.settings", "VO2_MODE": "local", "BROKER_URL": broker_url,
        "VO2_DATA_DIR": tempfile.mkdtemp(prefix="vo2-bench-"), "LOG_LEVEL": "WARNING",
        "VO2_CONTRACTS_DIR": os.pathsep.join([str(SERVICE / "tests" / "contracts"), str(ROOT / "contracts" / "events")]),
        "DATABASE_URL": f"postgresql://vo2_bench_owner:bench@127.0.0.1:5432/{database}",
    })
    from servicekit.pgroles import provision

    provision(pg_admin, database, "vo2_bench_owner", "vo2_bench_app", "bench", recreate=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return database


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Counter:
    """A raw kombu consumer on a bench queue bound to the probe type; records when each event id arrived."""

    def __init__(self, url, queue_name):
        from kombu import Connection, Consumer, Queue

        from servicekit.events import broker

        self.arrived: dict[str, float] = {}
        self.stop = threading.Event()
        self.conn = Connection(url)
        channel = self.conn.channel()
        broker.EVENTS_EXCHANGE(channel).declare()
        self.queue = Queue(queue_name, broker.EVENTS_EXCHANGE, routing_key="vo2test.probe.recorded",
                           durable=False, auto_delete=True)(channel)
        self.queue.declare()
        self.consumer = Consumer(channel, [self.queue], on_message=self.on, prefetch_count=500, no_ack=True)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def on(self, message):
        body = message.body
        try:
            event_id = json.loads(body)["id"]
        except (ValueError, KeyError, TypeError):
            return
        self.arrived[event_id] = time.perf_counter()

    def run(self):
        with self.consumer:
            while not self.stop.is_set():
                try:
                    self.conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass

    def wait_for(self, ids, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(i in self.arrived for i in ids):
                return max(self.arrived[i] for i in ids)
            time.sleep(0.005)
        raise TimeoutError(f"{sum(i in self.arrived for i in ids)}/{len(ids)} arrived")

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.conn.release()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--broker", default=os.environ.get("VO2_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//"))
    parser.add_argument("--pg-admin", default=os.environ.get("VO2_TEST_PG_ADMIN",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    database = setup(args.broker, args.pg_admin)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        from servicekit.pgroles import drop

        drop(args.pg_admin, database)


def run(args):
    from django.db import transaction
    from kombu import Connection, Producer

    from servicekit.events import broker, publish
    from servicekit.events.models import OutboxEvent
    from servicekit.events.relay import Relay

    tenant = str(uuid.uuid4())
    counter = Counter(args.broker, f"bench.{uuid.uuid4().hex[:8]}")
    try:
        # 1. throughput: N events already committed, relay drains them (batches, confirms), consumer receives
        ids = []
        for start in range(0, args.events, 100):
            with transaction.atomic():
                ids += [publish("vo2test.probe.recorded", {"user_id": tenant, "n": i}, tenant_id=tenant)
                        for i in range(start, min(start + 100, args.events))]
        bodies = list(OutboxEvent.objects.filter(sent_at__isnull=True).values_list("event_id", "body"))
        relay = Relay(broker.Publisher(args.broker), batch_size=500)
        t0 = time.perf_counter()
        relay.run(until_idle=True)
        t_relay = time.perf_counter() - t0
        t_last = counter.wait_for(ids) - t0
        relay.close()
        relay_rate, e2e_rate = len(ids) / t_relay, len(ids) / t_last

        # 2. the same messages through kombu directly, unconfirmed
        direct_ids = []
        with Connection(args.broker) as conn:
            producer = Producer(conn.channel(), exchange=broker.EVENTS_EXCHANGE)
            payloads = []
            for _, body in bodies:
                env = json.loads(body)
                env["id"] = str(uuid.uuid4())
                direct_ids.append(env["id"])
                payloads.append(json.dumps(env))
            t0 = time.perf_counter()
            for payload in payloads:
                producer.publish(payload, routing_key="vo2test.probe.recorded", content_type="application/json",
                                 content_encoding="utf-8", delivery_mode=2)
            t_direct = time.perf_counter() - t0
        direct_last = counter.wait_for(direct_ids) - t0
        direct_rate = len(payloads) / t_direct

        # 3. lag at a steady rate: commit → relay → broker → consumer
        committed: dict[str, float] = {}
        relay = Relay(broker.Publisher(args.broker))
        relay_thread = threading.Thread(target=relay.run, daemon=True)
        relay_thread.start()
        interval, n = 1.0 / args.rate, int(args.rate * args.seconds)
        start = time.perf_counter()
        for i in range(n):
            target = start + i * interval
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            with transaction.atomic():
                event_id = publish("vo2test.probe.recorded", {"user_id": tenant, "n": i}, tenant_id=tenant)
            committed[event_id] = time.perf_counter()
        achieved = n / (time.perf_counter() - start)
        counter.wait_for(list(committed))
        relay.stopping.set()
        relay_thread.join(10)
        relay.close()
        lags = [counter.arrived[i] - t for i, t in committed.items()]
    finally:
        counter.close()

    ratio = relay_rate / direct_rate
    print(f"events: {len(ids)}  broker: RabbitMQ  database: PostgreSQL")
    print(f"relay (outbox → RabbitMQ, confirms, marked sent): {relay_rate:8.0f} events/s")
    print(f"outbox → relay → RabbitMQ → consumer (end to end): {e2e_rate:8.0f} events/s")
    print(f"kombu direct publish, unconfirmed:                {direct_rate:8.0f} events/s "
          f"(all consumed after {direct_last:.2f} s)")
    print(f"ratio relay / direct: {ratio:.0%}  (target ≥ 25 %)  {'OK' if ratio >= 0.25 else 'MISSED'}")
    print(f"lag at {achieved:.0f} events/s for {args.seconds:.0f} s ({len(lags)} events): "
          f"p50 {percentile(lags, 50) * 1000:.1f} ms, p99 {percentile(lags, 99) * 1000:.1f} ms, "
          f"max {max(lags) * 1000:.1f} ms  (target p99 ≤ 1000 ms)  "
          f"{'OK' if percentile(lags, 99) <= 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
