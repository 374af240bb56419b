"""measurements' periodic work without a beat process: every Celery worker of the service runs a small timer thread
(started on worker_ready) that re-sends unconfirmed deletion requests and removes expired export files every
MEASUREMENTS_PERIODIC_SECONDS. Both are idempotent, so several workers running them is harmless. A deployment that
runs `celery -A measurements.celery beat` (the schedule is in measurements.celery) sets
MEASUREMENTS_PERIODIC_IN_WORKER=false."""
from __future__ import annotations

import logging
import threading

from celery.signals import worker_ready
from django.conf import settings
from django.db import close_old_connections

from .erasure import tasks as erasure_tasks
from .exports import flows as export_flows

log = logging.getLogger(__name__)

JOBS = (("reemit-deletions", erasure_tasks.reemit_unconfirmed), ("remove-expired-exports", export_flows.remove_expired))


def tick() -> list[str]:
    """Run every periodic job once; returns the names that ran without an error."""
    ran = []
    for name, job in JOBS:
        try:
            job()
            ran.append(name)
        except Exception:  # a database hiccup: the next tick tries again
            log.exception("periodic %s failed", name)
        finally:
            close_old_connections()
    return ran


def _run(stopping: threading.Event) -> None:
    while not stopping.wait(settings.MEASUREMENTS_PERIODIC_SECONDS):
        tick()


@worker_ready.connect(weak=False)
def _start_periodic(**_):
    if settings.MEASUREMENTS_PERIODIC_IN_WORKER:
        threading.Thread(target=_run, args=(threading.Event(),), name="measurements-periodic", daemon=True).start()
