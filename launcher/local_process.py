"""Local mode's processes of a Django service, for one lab's computer.

    python launcher/local_process.py --listen 127.0.0.1:8005 web relay consumer worker
    python launcher/local_process.py worker
    (cwd: the service's folder; DJANGO_SETTINGS_MODULE set)

The same loops SaaS mode runs one process per role (gunicorn, `manage.py run_relay`, `manage.py run_consumer`,
`celery -A <service>.celery worker`), grouped so the computer loads Django once or twice per service instead of up
to four times. What waits on the network shares the web process as threads: the web server (waitress), the outbox
relay, the event consumer, the e-mail worker, the beat that sends the periodic jobs (or, role `jobs`, runs them
itself: a service whose worker would run nothing else). A Celery worker that computes (measurements' imports, reports' PDFs)
runs in a process of its own, so a long job never holds the API's interpreter. Each loop has its own database
connection; a Celery worker (solo pool: one job at a time, or a threads pool where the service's Celery app asks for one;
late acks as everywhere) runs in the main thread, where
it handles SIGTERM/SIGINT as a warm shutdown. When a loop ends unexpectedly its process stops, non-zero, so the
launcher sees it and stops the system rather than run half of it. Once every loop works, the process prints
"<service> process ready: <roles>" (the launcher waits for that line).
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import secrets
import signal
import socket
import sys
import threading

log = logging.getLogger("vo2.local")

# Optional imports of the libraries below that no process of a lab's computer ever uses, each loading dozens of
# modules into every process that imports its parent (about 15 MB per Django process, bench/local_footprint.py):
# an entry of None in sys.modules makes `import x` raise ImportError, which each parent takes as "not installed".
NEVER_USED_LOCALLY = {
    "httpx._main": "httpx's command-line client (click, rich, pygments); the services use httpx's clients only",
    "requests": "Django REST framework's optional RequestsClient, for tests; nothing here calls requests but the "
                "OpenTelemetry exporter, kept when one is configured",
}
NEVER_USED_BY_DJANGO = {
    "pydantic": "drf-spectacular's optional support for pydantic models, which it loads while writing the OpenAPI "
                "document; no Django service has one (the FastAPI processes use pydantic and keep it)",
}
NEVER_USED_ON_SQLITE = {
    "psycopg": "the PostgreSQL driver (and libpq), which DRF's optional PostgreSQL fields load; a lab's computer "
               "keeps its data in SQLite",
}


def leave_out_unused_libraries(*, asgi: bool = False) -> None:
    """Local mode only (SaaS runs gunicorn, celery and uvicorn as compose does, with everything importable)."""
    names = dict(NEVER_USED_LOCALLY) if asgi else {**NEVER_USED_LOCALLY, **NEVER_USED_BY_DJANGO}
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        names.update(NEVER_USED_ON_SQLITE)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        del names["requests"]  # the OTLP/HTTP exporter sends with requests
    if asgi:  # uvicorn's --reload (its supervisors import watchfiles when installed) is never used
        names["watchfiles"] = "uvicorn's --reload"
    for name in names:
        sys.modules.setdefault(name, None)


class Loop:
    """A relay or consumer loop in a thread; `failed` when it ended other than by being stopped."""

    def __init__(self, name: str, runner, stopping: threading.Event, close=None, ready: threading.Event | None = None):
        self.name, self.runner, self.stopping, self.close = name, runner, stopping, close
        self.ready = ready or threading.Event()
        self.failed = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self):
        from django.db import connections

        try:
            self.runner()
        except BaseException:  # noqa: BLE001 - any end of a loop is reported and stops the process
            log.exception("%s stopped with an error", self.name)
        finally:
            if self.close:
                self.close()
            connections.close_all()
        if not self.stopping.is_set():
            self.failed = True
            log.error("%s ended; stopping this process", self.name)
            os.kill(os.getpid(), signal.SIGTERM)


def relay_loop() -> Loop:
    from servicekit.events.relay import Relay

    relay = Relay()
    loop = Loop("relay", relay.run, relay.stopping, relay.close)
    loop.ready.set()  # it polls the outbox from its first moment
    return loop


def consumer_loop() -> Loop:
    from django.conf import settings

    from servicekit.events import registry
    from servicekit.events.consumer import EventConsumer

    consumer = EventConsumer(settings.SERVICE_NAME, registry.load([]))
    ready = threading.Event()  # set once it is subscribed to its queue
    return Loop("consumer", lambda: consumer.run(ready=ready), consumer.stopping, ready=ready)


def beat_loop(service: str) -> Loop:
    """The service's Celery beat as a thread: it sends the periodic jobs (settings.PERIODIC_JOBS) to the service's
    queue, where its worker (in this process or the service's background process) runs them."""
    from celery.beat import Service

    from servicekit import periodic

    app = importlib.import_module(f"{service}.celery").app
    periodic.send_all_now(app)  # as `celery beat` does at its start (servicekit.celery)
    beat = Service(app, max_interval=30, scheduler_cls=app.conf.beat_scheduler)  # as `celery beat` picks it
    stopping = threading.Event()

    def stop():
        beat.stop()

    loop = Loop("beat", beat.start, stopping, close=None)
    loop.ready.set()  # it schedules from its first moment
    loop.stop = stop
    return loop


def jobs_loop(service: str) -> Loop:
    """The service's periodic jobs run by this thread itself, on its beat's schedule (each once at the start, as the
    beat sends them, then every interval): for a service whose Celery worker runs nothing but those jobs (identity),
    so that local mode needs neither a beat nor a worker for it. The jobs are the same functions under the same
    rules (servicekit.periodic.run: metrics, lock on PostgreSQL); one that raises is logged, as a worker would."""
    import time

    from servicekit import metrics, periodic

    schedule = {entry["task"]: float(entry["schedule"])
                for entry in importlib.import_module(f"{service}.celery").app.conf.beat_schedule.values()}
    stopping = threading.Event()

    def run():
        due = dict.fromkeys(schedule, 0.0)
        while not stopping.is_set():
            metrics.heartbeat("jobs", max_age=600.0)  # metrics port /healthz: a round runs the due jobs, waits ≤ 30 s
            for name, every in schedule.items():
                if due[name] <= time.monotonic() and not stopping.is_set():
                    try:
                        periodic.run(name)
                    except Exception:  # noqa: BLE001 - the next run is due as usual
                        log.exception("periodic %s failed", name)
                    due[name] = time.monotonic() + every
            stopping.wait(min(30.0, max(0.5, min(due.values()) - time.monotonic())))

    loop = Loop("jobs", run, stopping)
    loop.ready.set()
    return loop


class AsgiServer:
    """The service's ASGI application (`<service>/asgi.py`: notifications, whose streams live on an event loop) on
    uvicorn, with waitress's two calls: `.run()` serves until `.close()` (in a thread; no signal handlers there)."""

    def __init__(self, module: str, listen: str):
        import uvicorn

        host, _, port = listen.rpartition(":")
        app = importlib.import_module(module).application
        # proxy_headers off: the gateway's X-Forwarded-* reach the kit as they came (as waitress passes them)
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=int(port), proxy_headers=False,
                                                    access_log=False, lifespan="off", log_level="warning"))

    def run(self):
        self.server.run()

    def close(self):
        self.server.should_exit = True


def web_server(listen: str):
    """The service's WSGI application on waitress (threads), not yet serving: `.run()` serves until the process ends.
    A service with an ASGI application of its own (`<service>/asgi.py`) is served by it on uvicorn instead."""
    from django.conf import settings

    asgi = f"{settings.SERVICE_NAME}.asgi"
    if importlib.util.find_spec(asgi) is not None:
        return AsgiServer(asgi, listen)
    import waitress.server
    from django.core.wsgi import get_wsgi_application

    # clear_untrusted_proxy_headers=False: the gateway's X-Forwarded-Host/-Proto reach the kit, which builds
    # the public links from them (waitress would drop them: it trusts no proxy here)
    return waitress.server.create_server(get_wsgi_application(), listen=listen,
                                         threads=int(os.environ.get("VO2_THREADS", "8")),
                                         clear_untrusted_proxy_headers=False)


def run_worker(service: str, ready: threading.Event) -> None:
    """The service's Celery worker in this (main) thread until SIGTERM/SIGINT."""
    from celery.signals import worker_ready

    worker_ready.connect(lambda **_: ready.set(), weak=False)
    # Celery's Django fix-up runs Django's system checks when a worker starts, which loads every view and the
    # OpenAPI machinery only for the URL check (about 20 MB and a second of CPU in a worker process). The checks
    # look at the code, not at the data: SaaS mode's workers still run them, in the SaaS end-to-end tests too
    os.environ.setdefault("CELERY_SKIP_CHECKS", "1")
    app = importlib.import_module(f"{service}.celery").app
    # solo (one job at a time), unless the service's app asks for threads (jobs that wait on the network): threads
    # of this process, never more processes
    threads = app.conf.worker_pool == "threads"
    # a node name of its own: several workers (or systems) on one host must not share a pidbox queue
    worker = app.Worker(hostname=f"{service}-{secrets.token_hex(3)}@{socket.gethostname()}",
                        queues=[app.conf.task_default_queue], pool_cls="threads" if threads else "solo",
                        concurrency=app.conf.worker_concurrency if threads else 1, without_mingle=True,
                        without_gossip=True, loglevel=os.environ.get("LOG_LEVEL", "INFO"))
    worker.start()


def until_signal(run=None) -> None:
    """`run()` (or nothing) in this thread until SIGTERM/SIGINT."""
    stopped = threading.Event()

    def stop(signum, frame):
        stopped.set()
        if run is not None:
            raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        run() if run is not None else stopped.wait()
    except SystemExit:
        pass


def _give_back_freed_memory() -> None:
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed heap pages otherwise
    except (OSError, AttributeError):  # not glibc
        pass


def prepare_here() -> bool:
    """Local mode's preparation in this process, before any loop starts (what launcher/prepare.py does for SaaS
    mode, without a Django start of its own per service): migrations, the consumer's queue declared
    (VO2_PREPARE=migrate[,declare-queue]) and the first start's bootstrap (VO2_BOOTSTRAP: its arguments as JSON).
    Then it reports {"printed": <the bootstrap's output>} on the descriptor VO2_PREPARED_FD (never in the log: it
    holds the first password) and waits for the launcher's "go" on stdin, which comes once every service is
    prepared (queues exist before anything publishes). False: stdin ended first (the launcher stopped)."""
    import io
    import json

    from django.core.management import call_command

    steps = os.environ["VO2_PREPARE"].split(",")
    call_command("migrate", interactive=False, verbosity=0)
    if "declare-queue" in steps:
        call_command("run_consumer", "--declare-only")
    printed = io.StringIO()
    if os.environ.get("VO2_BOOTSTRAP"):
        call_command(*json.loads(os.environ["VO2_BOOTSTRAP"]), stdout=printed)
    _give_back_freed_memory()  # what the migrations' model states took is garbage now (about 2 MB a process)
    with os.fdopen(int(os.environ["VO2_PREPARED_FD"]), "w") as report:
        report.write(json.dumps({"printed": printed.getvalue()}) + "\n")
    return sys.stdin.readline().strip() == "go"


def main(argv: list[str]) -> int:
    listen = None
    if argv[:1] == ["--listen"]:
        listen, argv = argv[1], argv[2:]
    roles = argv
    assert roles and set(roles) <= {"web", "relay", "consumer", "worker", "beat", "jobs"}, roles
    assert ("web" in roles) == (listen is not None), "web needs --listen, and only web listens"
    leave_out_unused_libraries()
    import django

    django.setup()
    from django.conf import settings

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    service = settings.SERVICE_NAME
    if os.environ.get("VO2_PREPARE") and not prepare_here():
        return 0
    from servicekit import metrics, tracing

    # one metrics endpoint (METRICS_PORT) and one tracer for every loop of this process
    tracing.setup(service, role="+".join(roles))
    metrics.serve()
    server = web_server(listen) if "web" in roles else None  # listening from here on
    loops = [{"relay": relay_loop, "consumer": consumer_loop}[role]() for role in roles if role in
             ("relay", "consumer")]
    if "beat" in roles:
        loops.append(beat_loop(service))
    if "jobs" in roles:
        loops.append(jobs_loop(service))
    for loop in loops:
        loop.thread.start()
    waits = [loop.ready for loop in loops]
    worker_ready = threading.Event()
    if "worker" in roles:
        waits.append(worker_ready)

    def announce():  # printed whatever LOG_LEVEL says: the launcher waits for this line
        if all(event.wait(300) for event in waits):
            # the process's own stdout: Celery redirects sys.stdout into its logger, which LOG_LEVEL may silence
            print(f"{service} process ready: {' '.join(roles)}", file=sys.__stdout__, flush=True)

    threading.Thread(target=announce, name="ready", daemon=True).start()
    if "worker" in roles:
        if server is not None:  # the worker needs the main thread (signals); the web server takes another
            threading.Thread(target=server.run, name="web", daemon=True).start()
        run_worker(service, worker_ready)
    else:
        until_signal(server.run if server is not None else None)
    if server is not None:
        server.close()
    for loop in loops:
        loop.stopping.set()
        if getattr(loop, "stop", None):
            loop.stop()
    for loop in loops:
        loop.thread.join(timeout=10)
    failed = [loop.name for loop in loops if loop.failed]
    if failed:
        log.error("%s process stopped because %s ended", service, ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
