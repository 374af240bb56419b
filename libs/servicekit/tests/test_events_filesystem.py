"""The event bus on the filesystem transport (local mode), across real processes.

kombu 5.7's own `filesystem://` transport is checked first (topic routing across processes works once the
publishing process declares the exchange); then the kit's safer subclass: at-least-once after a SIGKILL, requeue to
the queue itself only, and quorum-style delivery limits with dead-lettering.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from kombu import Connection, Consumer, Exchange, Queue

from servicekit.events import broker

TOPIC = Exchange("vo2.events", type="topic", durable=True)


def run_script(code: str, env: dict, *args: str) -> subprocess.Popen:
    """Unbuffered byte pipes: readline() then takes exactly one line. A text pipe reads ahead, and communicate(),
    which reads the pipe itself, never sees a line that arrived in the same chunk as READY (on a loaded machine the
    consumer's GOT line did, and the test failed with the message delivered)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)


def wait_ready(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline().decode()
    assert line.strip() == "READY", proc.stderr.read().decode()


def finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    return out.decode(), err.decode()


@pytest.fixture
def fsenv(tmp_path, monkeypatch):
    monkeypatch.setenv("VO2_BROKER_DIR", str(tmp_path / "broker"))
    monkeypatch.setenv("BROKER_URL", "filesystem://")
    return {"VO2_BROKER_DIR": str(tmp_path / "broker"), "BROKER_URL": "filesystem://"}


PLAIN_CONSUMER = """
    import json, sys
    from kombu import Connection, Consumer, Exchange, Queue
    folder = sys.argv[1] if len(sys.argv) > 1 else {folder!r}
    opts = {{"data_folder_in": folder + "/q", "data_folder_out": folder + "/q", "control_folder": folder + "/c"}}
    topic = Exchange("vo2.events", type="topic", durable=True)
    with Connection("filesystem://", transport_options=opts) as conn:
        got = []
        queues = [Queue("svc.events", topic, routing_key="a.thing.*"), Queue("other.events", topic, routing_key="b.#")]
        def on(body, message):
            got.append([message.delivery_info["routing_key"], body]); message.ack()
        with Consumer(conn, queues[:1], callbacks=[on], accept=["json"]):
            Consumer(conn, queues[1:], callbacks=[on], accept=["json"]).declare()
            print("READY", flush=True)
            import time
            deadline = time.time() + 15
            while len(got) < 1 and time.time() < deadline:
                try: conn.drain_events(timeout=0.2)
                except Exception: pass
        print(json.dumps(got), flush=True)
"""


def test_kombu_filesystem_transport_routes_topics_across_processes(tmp_path):
    """The CHECK from the design: plain kombu 5.7 `filesystem://`, consumer and publisher in two processes."""
    folder = str(tmp_path)
    for sub in ("q", "c"):
        (tmp_path / sub).mkdir()
    consumer = run_script(PLAIN_CONSUMER.format(folder=folder), {})
    wait_ready(consumer)
    publisher = run_script(f"""
        from kombu import Connection, Exchange, Producer
        opts = {{"data_folder_in": {folder!r} + "/q", "data_folder_out": {folder!r} + "/q",
                "control_folder": {folder!r} + "/c"}}
        topic = Exchange("vo2.events", type="topic", durable=True)
        with Connection("filesystem://", transport_options=opts) as conn:
            p = Producer(conn.channel(), exchange=topic)
            topic(p.channel).declare()
            p.publish({{"n": 1}}, routing_key="a.thing.done", serializer="json")
            p.publish({{"n": 2}}, routing_key="c.unbound.type", serializer="json")
    """, {})
    assert publisher.wait(20) == 0, publisher.stderr.read().decode()
    out, err = finish(consumer)
    assert json.loads(out.strip().splitlines()[-1]) == [["a.thing.done", {"n": 1}]], err
    # the unbound type went nowhere; the other service's queue got nothing
    leftovers = sorted(p.name.partition(".")[2] for p in (tmp_path / "q").iterdir())
    assert leftovers == []


CONSUMER = """
    import json, os, sys, time
    from kombu import Consumer
    from servicekit.events import broker
    mode = sys.argv[1]
    with broker.connection() as conn:
        channel = conn.channel()
        queue, dlq = broker.declare_service_topology(channel, "svc", ["vo2test.thing.done"])
        seen = []
        def on(body, message):
            seen.append(message.headers.get("x-delivery-count", 0))
            print("GOT", json.dumps({"body": body, "count": message.headers.get("x-delivery-count", 0)}), flush=True)
            if mode == "hang":
                time.sleep(3600)
            elif mode == "fail":
                message.reject(requeue=True)
            else:
                message.ack()
        with Consumer(channel, [queue], callbacks=[on], accept=["json"], prefetch_count=1):
            print("READY", flush=True)
            deadline = time.time() + float(os.environ.get("RUN_FOR", "10"))
            while time.time() < deadline:
                try:
                    conn.drain_events(timeout=0.1)
                except TimeoutError:
                    pass
                except Exception as e:  # said on stderr: a test that fails shows why
                    print("DRAIN", repr(e), file=sys.stderr, flush=True)
                if mode == "ack" and seen:
                    break
"""


def publish(event_type="vo2test.thing.done", n=1):
    pub = broker.Publisher()
    try:
        ids = [str(uuid.uuid4()) for _ in range(n)]
        pub.publish_batch([broker.Outgoing(i, event_type, json.dumps({"id": i}), None) for i in ids])
        return ids
    finally:
        pub.close()


def test_kit_filesystem_transport_routes_and_acks_across_processes(fsenv):
    consumer = _start("ack", fsenv)
    [event_id] = publish()
    out, err = finish(consumer)
    got = [json.loads(line[4:]) for line in out.splitlines() if line.startswith("GOT ")]
    assert got == [{"body": {"id": event_id}, "count": 0}], err
    assert os.listdir(os.path.join(fsenv["VO2_BROKER_DIR"], "queues")) == []


def _start(mode, fsenv, run_for=10):
    proc = run_script(CONSUMER, {**fsenv, "RUN_FOR": str(run_for)}, mode)
    wait_ready(proc)
    return proc


def test_a_killed_consumers_message_is_delivered_again(fsenv):
    hanging = _start("hang", fsenv, run_for=60)
    try:
        [event_id] = publish()
        line = hanging.stdout.readline().decode()
        assert line.startswith("GOT ") and json.loads(line[4:])["body"]["id"] == event_id
    finally:
        os.kill(hanging.pid, signal.SIGKILL)
        hanging.wait()
    # with kombu's own transport the message would be gone now (deleted when it was taken)
    survivor = _start("ack", fsenv)
    out, err = finish(survivor)
    got = [json.loads(line[4:]) for line in out.splitlines() if line.startswith("GOT ")]
    assert got == [{"body": {"id": event_id}, "count": 1}], err


def test_delivery_limit_dead_letters_like_a_quorum_queue(fsenv, monkeypatch):
    failing = _start("fail", fsenv, run_for=6)
    [event_id] = publish()
    out, err = finish(failing)
    counts = [json.loads(line[4:])["count"] for line in out.splitlines() if line.startswith("GOT ")]
    assert counts == list(range(broker.max_deliveries())), err  # delivered 5 times, then no more
    with broker.connection() as conn:
        channel = conn.channel()
        _, dlq = broker.declare_service_topology(channel, "svc", ["vo2test.thing.done"])
        dead = dlq.get(no_ack=False)
        assert dead is not None and json.loads(dead.body)["id"] == event_id
        assert dead.headers["x-first-death-reason"] == "delivery_limit"
        assert dead.headers["x-first-death-queue"] == "svc.events"
        dead.ack()
        assert dlq.get() is None


def test_a_requeued_message_returns_to_its_own_queue_only(fsenv):
    """kombu's filesystem restore re-routes through the exchange; another service bound to the type would get a
    second copy. The kit's transport puts it back into the rejecting queue only."""
    with broker.connection() as conn:
        channel = conn.channel()
        mine, _ = broker.declare_service_topology(channel, "svc", ["vo2test.thing.done"])
        other, _ = broker.declare_service_topology(channel, "other", ["vo2test.thing.done"])
        publish()
        message = mine.get(no_ack=False)
        message.reject(requeue=True)
        again = mine.get(no_ack=False)
        assert again is not None and again.headers["x-delivery-count"] == 1
        again.ack()
        first = other.get(no_ack=False)
        assert first is not None and "x-delivery-count" not in (first.headers or {})
        first.ack()
        assert other.get() is None and mine.get() is None
