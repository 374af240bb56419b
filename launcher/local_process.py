"""Local mode's two processes per Django service, for one lab's computer.

    python launcher/local_process.py web <host:port> [relay]       the web server, and the outbox relay beside it
    python launcher/local_process.py background consumer worker    the consumer and the Celery worker
    (cwd: the service; DJANGO_SETTINGS_MODULE set)

The same code SaaS mode runs as one process per role (gunicorn, `manage.py run_relay`, `manage.py run_consumer`,
`celery -A <service>.celery worker`), grouped so the computer loads Django twice per service instead of up to
four times. The web server is waitress (one process, threads). The relay, an I/O loop polling the outbox, runs as a
thread of the web process; the consumer and the worker, which do the heavy work (imports, PDFs, e-mail), run in a
process of their own so they never slow the API down: the consumer in a thread, the Celery worker (solo pool: one
job at a time, late acks as everywhere) in the main thread, where it handles SIGTERM/SIGINT as a warm shutdown.
Each loop has its own database connection. When a loop ends unexpectedly its process stops, non-zero, so the
launcher sees it and stops the system rather than run half of it.
"""
from __future__ import annotations

import importlib
import logging
import os
import secrets
import signal
import socket
import sys
import threading

log = logging.getLogger("vo2.local")


class Loop:
    """A relay or consumer loop in a thread; `failed` when it ended other than by being stopped."""

    def __init__(self, name: str, runner, stopping: threading.Event, close=None):
        self.name, self.runner, self.stopping, self.close = name, runner, stopping, close
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
    return Loop("relay", relay.run, relay.stopping, relay.close)


def consumer_loop() -> Loop:
    from django.conf import settings

    from servicekit.events import registry
    from servicekit.events.consumer import EventConsumer

    consumer = EventConsumer(settings.SERVICE_NAME, registry.load([]))
    return Loop("consumer", consumer.run, consumer.stopping)


def serve_web(listen: str) -> None:
    """Serve the service's WSGI application until SIGTERM/SIGINT."""
    import waitress
    from django.core.wsgi import get_wsgi_application

    def stop(signum, frame):
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        # clear_untrusted_proxy_headers=False: the gateway's X-Forwarded-Host/-Proto reach the kit, which builds
        # the public links from them (waitress would drop them: it trusts no proxy here)
        waitress.serve(get_wsgi_application(), listen=listen, threads=int(os.environ.get("VO2_THREADS", "8")),
                       clear_untrusted_proxy_headers=False, _quiet=True)
    except SystemExit:
        pass


def run_worker(service: str) -> None:
    """The service's Celery worker in this (main) thread until SIGTERM/SIGINT."""
    app = importlib.import_module(f"{service}.celery").app
    # a node name of its own: several workers (or systems) on one host must not share a pidbox queue
    worker = app.Worker(hostname=f"{service}-{secrets.token_hex(3)}@{socket.gethostname()}",
                        queues=[app.conf.task_default_queue], pool_cls="solo", without_mingle=True,
                        without_gossip=True, loglevel=os.environ.get("LOG_LEVEL", "INFO"))
    worker.start()


def wait_for_signal() -> None:
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()


def main(argv: list[str]) -> int:
    role, args = argv[0], argv[1:]
    import django

    django.setup()
    from django.conf import settings

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    service = settings.SERVICE_NAME
    kinds = args[1:] if role == "web" else args
    loops = [{"relay": relay_loop, "consumer": consumer_loop}[kind]() for kind in kinds if kind != "worker"]
    for loop in loops:
        loop.thread.start()
    log.info("%s %s process%s", service, role, f" with {', '.join(kinds)}" if kinds else "")
    if role == "web":
        serve_web(args[0])
    elif "worker" in kinds:
        run_worker(service)
    else:
        wait_for_signal()
    for loop in loops:
        loop.stopping.set()
    for loop in loops:
        loop.thread.join(timeout=10)
    failed = [loop.name for loop in loops if loop.failed]
    if failed:
        log.error("%s %s process stopped because %s ended", service, role, ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
