"""notifications' periodic work without a beat process: every Celery worker of the service runs a small timer
thread (started on worker_ready) that calls the webhook sweep every WEBHOOK_SWEEP_SECONDS and the retention job
hourly. Both are idempotent, so several workers (replicas) running them is harmless; compose, Kubernetes and the
launcher need no extra process. A deployment that runs `celery -A notifications.celery beat` (the schedule is in
notifications.celery) sets NOTIFICATIONS_PERIODIC_IN_WORKER=false."""
from __future__ import annotations

import logging
import threading
import time

from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections

from .inapp import tasks as inapp_tasks
from .webhooks import tasks as webhook_tasks

log = logging.getLogger(__name__)
RETENTION_EVERY_SECONDS = 3600.0


class Periodic:
    def __init__(self):
        self.next_sweep = 0.0
        self.next_retention = 0.0
        self.stopping = threading.Event()

    def tick(self, now: float | None = None) -> list[str]:
        """Run what is due; returns the names run (for tests and logs)."""
        now = time.monotonic() if now is None else now
        ran = []
        for name, due, every, job in (("sweep", self.next_sweep, settings.WEBHOOK_SWEEP_SECONDS, webhook_tasks.sweep),
                                      ("retention", self.next_retention, RETENTION_EVERY_SECONDS,
                                       inapp_tasks.remove_old)):
            if now < due:
                continue
            try:
                job()
                ran.append(name)
            except Exception:  # a database hiccup: try again next time
                log.exception("periodic %s failed", name)
            finally:
                close_old_connections()
            if name == "sweep":
                self.next_sweep = now + every
            else:
                self.next_retention = now + every
        return ran

    def run(self) -> None:
        while not self.stopping.wait(min(1.0, settings.WEBHOOK_SWEEP_SECONDS)):
            self.tick()


@worker_ready.connect(weak=False)
def _start_periodic(**_):
    if settings.NOTIFICATIONS_PERIODIC_IN_WORKER:
        threading.Thread(target=Periodic().run, name="notifications-periodic", daemon=True).start()
