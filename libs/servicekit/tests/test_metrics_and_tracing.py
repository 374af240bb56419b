"""servicekit.metrics (several processes behind one port, a standby taking over) and servicekit.tracing (one trace
through a server span, a service call and an event envelope; an in-memory exporter)."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from servicekit import http, metrics, requestid, testing, tracing
from servicekit.events import envelope

WORKER = textwrap.dedent("""
    import sys, time
    from servicekit import metrics
    runs = metrics.counter("vo2_test_runs_total", "runs", ["who"])
    busy = metrics.gauge("vo2_test_busy", "busy", mode="livesum")
    runs.labels("worker").inc(int(sys.argv[1]))
    busy.inc()
    metrics.serve()
    print("ready", flush=True)
    time.sleep(120)
""")


def scrape(url: str) -> dict:
    text = httpx.get(url, timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_route_templates_are_bounded_labels():
    assert metrics.route_template("^api/v1/athletes/(?P<pk>[^/.]+)/?$") == "/api/v1/athletes/{pk}/"
    assert metrics.route_template("api/v1/tests/<uuid:pk>/analysis") == "/api/v1/tests/{pk}/analysis"
    assert metrics.route_template("healthz") == "/healthz"


def test_processes_behind_one_port_are_served_together_and_another_takes_over(tmp_path):
    port = testing.free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "METRICS_PORT": str(port), "VO2_MODE": "local"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(n)], env=env, stdout=subprocess.PIPE, text=True,
                              start_new_session=True) for n in (3, 4)]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}/metrics"
        found = scrape(url)
        assert found[("vo2_test_runs_total", (("who", "worker"),))] == 7  # both processes' counts, one endpoint
        assert found[("vo2_test_busy", ())] == 2
        for proc in procs:  # whichever serves goes; the other takes the port within its retry interval
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        deadline = time.monotonic() + 15
        while True:
            try:
                found = scrape(url)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "no process took over the metrics port"
                time.sleep(0.2)
        assert found[("vo2_test_runs_total", (("who", "worker"),))] == 7  # a dead process's counts stay
        assert found[("vo2_test_busy", ())] == 1  # its live gauge does not
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def spans():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tracing.shutdown()
    exporter = InMemorySpanExporter()
    assert tracing.setup("kit-test", exporter=exporter)

    def finished():
        tracing.flush()
        return {s.name: s for s in exporter.get_finished_spans()}
    yield finished
    tracing.shutdown()


def test_a_request_its_service_call_and_its_event_are_one_trace(spans):
    seen = {}

    def answer(request):
        seen["traceparent"] = request.headers["traceparent"]
        return httpx.Response(200, json={"ok": True})

    client = http.ServiceClient("analysis", "http://analysis.test", transport=httpx.MockTransport(answer))
    incoming_trace, incoming_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    token = requestid.bind("req-1")
    try:
        with tracing.span("POST /api/v1/imports/", "server", traceparent=f"00-{incoming_trace}-{incoming_span}-01"):
            assert requestid.current_trace_id() == incoming_trace  # the log lines name the caller's trace
            client.post("/api/v1/analysis/parse", authorization="Bearer x", json={})
            with tracing.span("publish measurements.test.imported", "producer"):
                event_parent = tracing.traceparent()  # what servicekit.events.outbox puts on the envelope
        with tracing.span("handle measurements.test.imported", "consumer", traceparent=event_parent):
            pass
    finally:
        requestid.unbind(token)
    found = spans()
    server, call = found["POST /api/v1/imports/"], found["POST analysis"]
    producer, handled = found["publish measurements.test.imported"], found["handle measurements.test.imported"]
    assert {s.context.trace_id for s in found.values()} == {int(incoming_trace, 16)}
    assert server.parent.span_id == int(incoming_span, 16)
    assert call.parent.span_id == server.context.span_id
    assert seen["traceparent"] == f"00-{incoming_trace}-{call.context.span_id:016x}-01"  # the callee's parent
    assert producer.parent.span_id == server.context.span_id
    assert handled.parent.span_id == producer.context.span_id  # the consumer continues the event's publisher
    assert handled.kind.name == "CONSUMER" and call.kind.name == "CLIENT" and server.kind.name == "SERVER"


def test_the_envelope_carries_the_trace_but_a_webhook_gets_none():
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    raw = {"specversion": "1.0", "id": "5f0c6d1e-3c1a-4d1b-9e9b-0c5d7a1e2f3a", "source": "/vo2max/test",
           "type": "x.y.z", "tenantid": None, "data": {}, "traceparent": parent}
    event = envelope.parse(raw)
    assert event.traceparent == parent
    assert "traceparent" not in envelope.public(raw) and envelope.public(raw)["id"] == raw["id"]


def test_without_an_exporter_nothing_records_and_the_trace_id_still_goes_on():
    tracing.shutdown()
    assert not tracing.setup("kit-test")  # no OTEL_EXPORTER_OTLP_ENDPOINT here
    with tracing.span("GET /x", "server", traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") as s:
        assert s is None
        onward = tracing.traceparent()
    assert onward.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and not onward.endswith("00f067aa0ba902b7-01")


LOOPS = textwrap.dedent("""
    import sys, time
    from servicekit import metrics
    metrics.serve()
    print("no loops", flush=True)
    sys.stdin.readline()
    metrics.loop_starting("consumer", 60)
    print("starting", flush=True)
    sys.stdin.readline()
    metrics.heartbeat("consumer")
    metrics.heartbeat("relay", max_age=0.5)
    print("beaten", flush=True)
    sys.stdin.readline()
""")


def test_the_metrics_port_reports_its_loops_heartbeats_on_healthz():
    """Kubernetes probes relays, consumers, workers and beats here (deploy/k8s): 200 while every loop of the process
    beat within its allowed seconds, 503 before its first beat and once it stalls; /metrics is served beside it."""
    port = testing.free_port()
    env = {**os.environ, "METRICS_PORT": str(port), "VO2_MODE": "local"}
    proc = subprocess.Popen([sys.executable, "-c", LOOPS], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/healthz"

    def step() -> httpx.Response:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.stdout.readline()
        return httpx.get(url, timeout=5)

    try:
        assert proc.stdout.readline().strip() == "no loops"
        empty = httpx.get(url, timeout=5)
        assert empty.status_code == 200 and empty.json()["loops"] == {}  # a web process: probed on its own port
        starting = step()
        assert starting.status_code == 503 and starting.json()["loops"]["consumer"]["status"] == "starting"
        beaten = step()
        assert beaten.status_code == 200, beaten.text
        assert {name: loop["status"] for name, loop in beaten.json()["loops"].items()} == \
            {"consumer": "ok", "relay": "ok"}
        time.sleep(0.7)  # the relay's allowed half second goes by without a beat
        stalled = httpx.get(url, timeout=5)
        assert stalled.status_code == 503 and stalled.json()["loops"]["relay"]["status"] == "stale"
        assert stalled.json()["loops"]["consumer"]["status"] == "ok"
        assert "python_info" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
