"""Prometheus metrics: every process serves its own on `METRICS_PORT` (never through the public gateway).

    metrics.serve()                       # once per process (web, relay, consumer, worker); no METRICS_PORT → nothing
    IMPORT_STAGE = metrics.histogram("vo2_import_stage_duration_seconds", "…", ["stage"])   # a service's own metric

The kit declares the metrics every service shares and records them itself: HTTP requests (Django middleware, the
FastAPI middleware; the gateway records its own), background jobs (servicekit.jobs), the outbox relay and the event
consumer (servicekit.events). A service declares only its domain metrics, in its own module, with the helpers here.

Several processes behind one port (gunicorn workers, Celery's prefork pool, uvicorn --workers): with
`PROMETHEUS_MULTIPROC_DIR` set (an empty folder per container/process group; prometheus-client reads it when it is
first imported), each process writes its values to files there and the one process that holds `METRICS_PORT`
serves them all (prometheus-client's MultiProcessCollector). Which process holds it does not matter: the others
try again every few seconds, so when it dies another takes over. Gauges of processes that died are dropped before
each scrape (their pid is gone). Without the folder, a process serves its own in-memory registry (local mode: one
process with threads).

Bound to 127.0.0.1 in local mode (a lab's computer shows its metrics to nobody else), 0.0.0.0 otherwise;
`METRICS_ADDR` overrides.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable

from .config import env, env_int, is_local

# prometheus-client decides at import time whether values live in memory or in files: the folder must exist first.
MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR")
if MULTIPROC_DIR:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

import prometheus_client  # noqa: E402
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram  # noqa: E402

log = logging.getLogger("vo2.metrics")

# Seconds: from a cached JSON answer to a PDF render or a whole import stage.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def counter(name: str, documentation: str, labels=()) -> Counter:
    return Counter(name, documentation, list(labels))


def histogram(name: str, documentation: str, labels=(), buckets=LATENCY_BUCKETS) -> Histogram:
    return Histogram(name, documentation, list(labels), buckets=buckets)


def gauge(name: str, documentation: str, labels=(), mode: str = "mostrecent") -> Gauge:
    """`mode` says how the values of several processes add up (prometheus-client's multiprocess_mode): `livesum`
    for something each process holds (requests in flight), `mostrecent` for a sampled figure (a queue's depth)."""
    return Gauge(name, documentation, list(labels), multiprocess_mode=mode)


# -- what every web process records (the kit's middleware; the gateway its own) ------------------------------------
HTTP_REQUESTS = counter("vo2_http_requests_total", "HTTP requests answered, by route template, method and status",
                        ["service", "route", "method", "status"])
HTTP_DURATION = histogram("vo2_http_request_duration_seconds", "Time to answer an HTTP request",
                          ["service", "route", "method"])
HTTP_IN_FLIGHT = gauge("vo2_http_requests_in_flight", "HTTP requests being answered now", ["service"], mode="livesum")

# -- background jobs (servicekit.jobs) -----------------------------------------------------------------------------
JOBS = counter("vo2_jobs_total", "Background job runs, by task and outcome (done, retry, gave_up, crashed)",
               ["service", "task", "outcome"])
JOB_DURATION = histogram("vo2_job_duration_seconds", "Time one run of a background job took", ["service", "task"],
                         buckets=JOB_BUCKETS)
JOB_RETRIES = counter("vo2_job_retries_total", "Background job runs that asked to be retried later",
                      ["service", "task"])
JOB_QUEUE_DEPTH = gauge("vo2_job_queue_depth", "Jobs waiting in a service's Celery queue (sampled by its workers)",
                        ["service", "queue"])

# -- events (servicekit.events) ------------------------------------------------------------------------------------
OUTBOX_PENDING = gauge("vo2_outbox_pending", "Outbox events not yet published (sampled by the relay)", ["service"])
OUTBOX_OLDEST_AGE = gauge("vo2_outbox_oldest_pending_age_seconds",
                          "Age of the oldest unpublished outbox event (0 when none; sampled by the relay)", ["service"])
EVENTS_PUBLISHED = counter("vo2_events_published_total", "Events the relay published (broker confirmed)", ["service"])
EVENTS_PUBLISH_FAILURES = counter("vo2_events_publish_failures_total",
                                  "Relay batches the broker did not confirm (nack, timeout, connection lost)",
                                  ["service"])
EVENTS_CONSUMED = counter("vo2_events_consumed_total",
                          "Event deliveries a consumer finished, by outcome (handled, duplicate, ignored, failed)",
                          ["service", "type", "outcome"])
EVENTS_RETRIED = counter("vo2_events_retried_total", "Failed deliveries given back to the broker for another try",
                         ["service", "type"])
EVENTS_DEAD_LETTERED = counter("vo2_events_dead_lettered_total",
                               "Deliveries that went to the dead-letter queue (last try failed, or unreadable)",
                               ["service", "type"])
DEAD_LETTER_DEPTH = gauge("vo2_events_dead_letter_queue_depth",
                          "Messages in the service's dead-letter queue (sampled by its consumer)", ["service"])


def multiprocess() -> bool:
    return bool(MULTIPROC_DIR)


class Timer:
    """`with Timer(HISTOGRAM.labels(...)):` — observes the seconds the block took, also when it raised."""

    __slots__ = ("child", "started")

    def __init__(self, child):
        self.child = child

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.child.observe(time.perf_counter() - self.started)
        return False


# -- scrape-time figures -------------------------------------------------------------------------------------------
_scrape_callbacks: list[Callable[[], None]] = []


def on_scrape(callback: Callable[[], None]) -> None:
    """Run `callback` before each scrape served by this process (e.g. set a gauge from a pool's state). Errors are
    logged, never break the scrape."""
    _scrape_callbacks.append(callback)


class _BeforeScrape:
    """A collector that yields nothing: it runs the scrape callbacks and drops dead processes' live gauges."""

    def collect(self):
        if MULTIPROC_DIR:
            _forget_dead_processes(MULTIPROC_DIR)
        for callback in list(_scrape_callbacks):
            try:
                callback()
            except Exception as exc:  # a figure that cannot be read now is simply not updated
                log.warning("metrics callback %s failed: %s", getattr(callback, "__name__", callback), exc)
        return []


_PID = re.compile(r"_(\d+)\.db$")


def _forget_dead_processes(folder: str) -> None:
    from prometheus_client import multiprocess as mp

    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        match = _PID.search(path)
        if not match:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mp.mark_process_dead(pid, folder)
        except PermissionError:
            pass  # alive, someone else's


class _Own:
    """This process's default registry, collected after the scrape callbacks have run."""

    def collect(self):
        yield from REGISTRY.collect()


def registry() -> CollectorRegistry:
    """What this process serves: every process's values (multiprocess) or its own; scrape callbacks first."""
    served = CollectorRegistry(auto_describe=False)
    served.register(_BeforeScrape())
    if MULTIPROC_DIR:
        from prometheus_client import multiprocess as mp

        mp.MultiProcessCollector(served, path=MULTIPROC_DIR)
    else:
        served.register(_Own())
    return served


# -- the endpoint --------------------------------------------------------------------------------------------------
_lock = threading.Lock()
_serving: dict = {}


def port() -> int | None:
    value = env_int("METRICS_PORT", 0)
    return value or None


def serve(listen_port: int | None = None) -> int | None:
    """Serve `/metrics` for this process on METRICS_PORT (or `listen_port`), once per process; None without a
    port. With several processes behind the port, one serves and the others wait to take over."""
    listen_port = listen_port or port()
    if not listen_port:
        return None
    with _lock:
        if _serving.get("pid") == os.getpid():
            return listen_port
        _serving["pid"] = os.getpid()
    addr = env("METRICS_ADDR") or ("127.0.0.1" if is_local() else "0.0.0.0")
    served = registry()
    if _try_bind(addr, listen_port, served):
        return listen_port
    if not MULTIPROC_DIR:
        raise OSError(f"metrics port {listen_port} is taken (METRICS_PORT must be this process's own)")

    def take_over_later():  # a sibling serves now; when it is gone, this process serves
        while not _try_bind(addr, listen_port, served):
            time.sleep(5)

    threading.Thread(target=take_over_later, name="metrics-standby", daemon=True).start()
    return listen_port


def _try_bind(addr: str, listen_port: int, served) -> bool:
    """prometheus-client's own server (a thread per scrape), with `/healthz` beside `/metrics` (every other path
    answers the metrics, as prometheus-client does)."""
    import socket
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client.exposition import ThreadingWSGIServer, make_wsgi_app

    class Server(ThreadingWSGIServer):
        address_family = socket.getaddrinfo(addr, listen_port, type=socket.SOCK_STREAM)[0][0]

    class Quiet(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - scrapes and probes are not worth a log line each
            pass

    metrics_app = make_wsgi_app(served)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            status, body = loops_health()
            start_response("200 OK" if status == 200 else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [json.dumps(body).encode()]
        return metrics_app(environ, start_response)

    try:
        server = make_server(addr, listen_port, app, Server, handler_class=Quiet)
    except OSError:
        return False
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    _serving["server"] = server
    log.info("metrics on http://%s:%d/metrics (the loops' health on /healthz)", addr, listen_port)
    return True


# -- the loops' heartbeats (the metrics port's /healthz: Kubernetes' probes of relays, consumers, workers, beats) ---
_loops: dict[str, list] = {}  # loop name -> [last beat (monotonic) or None, most seconds allowed between beats]


def loop_starting(name: str, max_age: float) -> None:
    """`name` runs in this process and will beat at least every `max_age` seconds once it works; until its first
    beat the process is not healthy (a consumer not yet subscribed, a worker not yet consuming)."""
    with _lock:
        _loops[name] = [None, float(max_age)]


def heartbeat(name: str, max_age: float | None = None) -> None:
    """`name` went round its loop just now (cheap: a dictionary write)."""
    entry = _loops.get(name)
    if entry is None or max_age is not None:
        with _lock:
            entry = _loops.setdefault(name, [None, float(max_age or 60.0)])
            if max_age is not None:
                entry[1] = float(max_age)
    entry[0] = time.monotonic()


def beaten(name: str) -> bool:
    """Whether `name` has beaten at least once (it got to work)."""
    entry = _loops.get(name)
    return entry is not None and entry[0] is not None


def loops_health() -> tuple[int, dict]:
    """200 when every loop of this process beat within its allowed seconds, else 503; each loop's age either way.
    A process without loops (a web server: its probes use its own /healthz and /readyz) is 200."""
    now, loops, ok = time.monotonic(), {}, True
    for name, (last, max_age) in list(_loops.items()):
        fresh = last is not None and now - last <= max_age
        ok = ok and fresh
        loops[name] = {"status": "ok" if fresh else ("starting" if last is None else "stale"),
                       "seconds_since_beat": None if last is None else round(now - last, 1), "max_seconds": max_age}
    return (200 if ok else 503), {"status": "ok" if ok else "unhealthy", "pid": os.getpid(), "loops": loops}


def process_died(pid: int) -> None:
    """Celery's `worker_process_shutdown` / gunicorn's `child_exit`: the process's live gauges go now."""
    if MULTIPROC_DIR:
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid, MULTIPROC_DIR)


# -- route templates -----------------------------------------------------------------------------------------------
_NAMED = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def route_template(pattern: str) -> str:
    """A URL pattern as a label: `^api/v1/athletes/(?P<pk>[^/.]+)/?$` and `api/v1/tests/<uuid:pk>/` become
    `/api/v1/athletes/{pk}/` and `/api/v1/tests/{pk}/` (bounded, readable)."""
    text = _NAMED.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", pattern)
    text = text.replace("^", "").replace("$", "").replace("/?", "/").replace("\\", "")
    return text if text.startswith("/") else "/" + text


class RequestMetrics:
    """The HTTP metrics of one service, with the labelled children kept (a label lookup per request is most of the
    cost of recording)."""

    def __init__(self, service: str):
        self.service = service
        self._done: dict = {}
        self._timed: dict = {}
        self.in_flight = HTTP_IN_FLIGHT.labels(service)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        child = self._done.get(key)
        if child is None:
            child = self._done[key] = HTTP_REQUESTS.labels(self.service, route, method, str(status))
        child.inc()
        timed = self._timed.get((route, method))
        if timed is None:
            timed = self._timed[(route, method)] = HTTP_DURATION.labels(self.service, route, method)
        timed.observe(seconds)
