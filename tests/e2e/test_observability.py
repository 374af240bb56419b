"""Issue 17 items 1 and 2, end to end: after the lab's main flow (upload → import job → analysis → events →
notifications, a report rendered), every process's own metrics endpoint shows its counters moving, and one upload's
trace id is followed through the gateway, measurements, the Celery job, analysis and the notifications consumer."""
import random
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .test_tests_and_reports import FORMATS, upload, wait_for_import


def roles(proc) -> set[str]:
    """What a process of the launcher's table runs: local mode groups loops in one process (its arguments say
    which), SaaS mode runs one per role (its name says which)."""
    if any(arg.endswith("local_process.py") for arg in proc.argv):
        return set(proc.argv) & {"web", "relay", "consumer", "worker", "jobs"}
    return {proc.name.rsplit("-", 1)[1]} if "-" in proc.name else {"web"}


def service_of(proc) -> str:
    return proc.name.split("-", 1)[0]


def scrape(url: str) -> dict[str, list]:
    """name → [(labels, value)] of one metrics endpoint (counters under their `_total` sample names)."""
    text = httpx.get(url, timeout=10).text
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def total(found: dict, name: str, **labels) -> float:
    return sum(value for have, value in found.get(name, []) if all(have.get(k) == v for k, v in labels.items()))


@pytest.fixture(scope="module")
def flow(system, owner, traces):
    """One upload with the client's own trace context, its report rendered; returns (trace id, client span id)."""
    athlete = owner.post("/api/v1/athletes/", {"first_name": "Olga", "last_name": "Traced", "sex": "female",
                                               "birth_date": "1991-02-03", "body_mass_kg": 61.0, "height_cm": 170})
    assert athlete.status_code == 201, athlete.text
    trace_id, client_span = f"{random.getrandbits(128):032x}", f"{random.getrandbits(64) | 1:016x}"
    path = FORMATS["zan"]
    sent = owner.post("/api/v1/imports/", files={"file": (path.name, path.read_bytes())},
                      data={"athlete": athlete.json()["id"]},
                      headers={"traceparent": f"00-{trace_id}-{client_span}-01"})
    assert sent.status_code == 202, sent.text
    state = wait_for_import(owner, sent.json()["id"])
    assert state["status"] == "done", state
    report = owner.post("/api/v1/reports/", {"test": state["test"], "language": "en", "template": "athlete"})
    assert report.status_code == 202, report.text
    deadline = time.monotonic() + 60
    while owner.get(f"/api/v1/reports/{report.json()['id']}").json()["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    upload(owner, athlete.json(), FORMATS["zan"])  # a second import without a trace of its own: counters move on
    return trace_id, client_span


def test_one_upload_is_one_trace_from_the_gateway_to_the_notifications_consumer(system, flow, traces):
    trace_id, client_span = flow

    def wanted(spans):
        mine = [s for s in spans if s["trace_id"] == trace_id]
        return {("gateway", "server"), ("measurements", "server"), ("measurements", "job"), ("analysis", "server"),
                ("notifications", "handle")} <= {(s["service"], kind_of(s)) for s in mine}

    def kind_of(span):
        if span["name"].startswith("run measurements.imports"):
            return "job"
        if span["name"] == "handle measurements.test.imported":
            return "handle"
        return {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}[span["kind"]]

    traces.wait_for(wanted, timeout=60)
    spans = traces.trace(trace_id)
    by_id = {s["span_id"]: s for s in spans}
    (root,) = [s for s in spans if s["service"] == "gateway" and kind_of(s) == "server"]
    assert root["parent_id"] == client_span  # the client's span is the gateway's parent
    assert root["name"] == "POST /api/v1/imports/"
    for span in spans:  # one tree: every other span's parent is a span of the same trace
        if span is not root:
            assert span["parent_id"] in by_id, f"{span['service']} {span['name']} hangs off no span of the trace"

    def ancestors(span):
        chain = []
        while span["parent_id"] in by_id:
            span = by_id[span["parent_id"]]
            chain.append((span["service"], span["name"]))
        return chain

    job = next(s for s in spans if kind_of(s) == "job")
    assert ("measurements", "POST /api/v1/imports/") in ancestors(job)  # the job continues the upload's request
    parse = [s for s in spans if s["service"] == "analysis" and kind_of(s) == "server"]
    assert parse and all(("measurements", job["name"]) in ancestors(s) for s in parse)  # analysis called by the job
    handled = next(s for s in spans if kind_of(s) == "handle")
    assert ("measurements", "publish measurements.test.imported") in ancestors(handled)[:1]
    assert ("measurements", job["name"]) in ancestors(handled)


def test_every_process_serves_its_own_metrics_and_the_counters_moved(system, flow, owner):
    urls = system.metrics_urls()
    assert set(urls) == {proc.name for proc in system.processes}  # every process has its endpoint
    assert len(set(urls.values())) == len(urls)
    # never through the public gateway (its /metrics is the web console's page or a problem, no metric in it)
    for path in ("/metrics", "/api/v1/metrics"):
        public = owner.get(path)
        assert "vo2_http_requests_total" not in public.text
        assert not public.headers["content-type"].startswith("text/plain; version=")  # Prometheus's format
    # the sampled gauges (outbox, queues, dead letters) are read once when their loop starts, then every 5–15 s
    for proc in system.processes:
        found = scrape(proc.metrics_url)
        service, does = service_of(proc), roles(proc)
        if "web" in does:
            assert total(found, "vo2_http_requests_total", service=service) > 0, proc.name
            assert total(found, "vo2_http_request_duration_seconds_count", service=service) > 0, proc.name
            assert "vo2_http_requests_in_flight" in found, proc.name
            assert not [labels for labels, _ in found["vo2_http_requests_total"]
                        if labels["route"].count("-") >= 4], "route templates, not paths with ids"
        if "relay" in does:
            for gauge in ("vo2_outbox_pending", "vo2_outbox_oldest_pending_age_seconds"):
                assert [v for labels, v in found.get(gauge, []) if labels["service"] == service], proc.name
            if service in ("measurements", "reports"):  # they publish this flow's events (imported, report ready)
                assert total(found, "vo2_events_published_total", service=service) > 0, proc.name
        if "consumer" in does:
            assert [v for labels, v in found.get("vo2_events_dead_letter_queue_depth", [])
                    if labels["service"] == service], proc.name
            if service in ("notifications", "reports"):  # they handle this flow's events (imported, analyzed)
                assert total(found, "vo2_events_consumed_total", service=service, outcome="handled") > 0, proc.name
        if "worker" in does:
            assert total(found, "vo2_jobs_total", service=service, outcome="done") > 0, proc.name
            assert total(found, "vo2_job_duration_seconds_count", service=service) > 0, proc.name
            assert [v for labels, v in found.get("vo2_job_queue_depth", []) if labels["service"] == service], proc.name
        if "jobs" in does:  # local mode: the thread that runs the periodic jobs itself (no worker)
            assert total(found, "vo2_jobs_total", service=service, outcome="done") > 0, proc.name
            assert total(found, "vo2_job_duration_seconds_count", service=service) > 0, proc.name
        if service == "gateway":
            assert total(found, "vo2_http_requests_total", route="/api/v1/imports/", method="POST",
                         status="202") >= 2
            assert total(found, "vo2_gateway_upstream_request_duration_seconds_count", upstream="measurements") > 0
            assert total(found, "vo2_gateway_token_cache_total", result="hit") > 0
            assert total(found, "vo2_gateway_upstream_connections", upstream="measurements") > 0
        if service == "measurements" and "worker" in does:
            for stage in ("parsing", "storing", "analyzing"):
                assert total(found, "vo2_import_stage_duration_seconds_count", stage=stage) >= 2, stage
            assert total(found, "vo2_jobs_total", task="measurements.imports.run_import", outcome="done") >= 2
        if service == "reports" and "worker" in does:
            assert total(found, "vo2_report_render_duration_seconds_count", format="pdf") > 0
        if service == "notifications" and "consumer" in does:
            assert total(found, "vo2_events_consumed_total", type="measurements.test.imported") >= 2


def test_every_background_loop_reports_its_heartbeat_on_its_metrics_port(system, flow):
    """What Kubernetes probes relays, consumers, workers and beats on (deploy/k8s): the metrics port's /healthz, 200
    with a fresh heartbeat from every loop the process runs (local mode: several loops per process)."""
    beats = {"relay", "consumer", "worker", "beat", "jobs"}
    for proc in system.processes:
        answer = httpx.get(proc.metrics_url.replace("/metrics", "/healthz"), timeout=10)
        if any(arg.endswith("local_process.py") for arg in proc.argv):
            runs = set(proc.argv) & beats
        elif "-" in proc.name:
            runs = {proc.name.rsplit("-", 1)[1]} & beats
        else:
            runs = set()  # a web process: probed on its API port (/healthz, /readyz)
        assert answer.status_code == 200, (proc.name, answer.text)
        loops = answer.json()["loops"]
        assert set(loops) == runs, (proc.name, loops)
        assert all(loop["status"] == "ok" for loop in loops.values()), (proc.name, loops)
