"""Periodic jobs: one Celery beat per service sends them, the service's worker runs them.

    # settings.py: the schedule (job name -> seconds); make_celery gives it to the service's beat
    PERIODIC_JOBS = {"identity.tokens.remove_expired": 3600, **periodic.KIT_JOBS}

    # <app>/tasks.py (loaded by the Celery factory): the job, a Celery task of that name, run under its lock
    @periodic.job("identity.tokens.remove_expired")
    def remove_expired() -> int: ...                      # returns what it removed (logged)

Safe to run once: every job is idempotent (it deletes what a condition selects now, so a second run finds nothing
more), and on PostgreSQL each run first takes a session advisory lock named after the job (`pg_try_advisory_lock`):
while one run holds it, another (a second beat, a retried message) returns "skipped" at once instead of doing the
same work beside it. SQLite (local mode: one computer, one beat) needs no lock.

SaaS: `celery -A <service>.celery beat` in a container of its own per service (compose, deploy/k8s: one replica,
Recreate). Local mode: the beat runs as a thread of the service's web process (launcher/local_process.py, role
`beat`), sending to the same queue its worker reads; no extra process.

The kit's own jobs (KIT_JOBS, on every service with a worker): sent outbox rows and old inbox rows are removed
(`OUTBOX_KEEP_DAYS`, default 7; `INBOX_KEEP_DAYS`, default 30 — an inbox row only has to outlive the broker's
redeliveries of its event), and dead letters waiting in the service's dead-letter queue are reported as an ERROR
log line `dead letters waiting` with the count (the alert rules watch the DLQ depth metric; the log names it).
"""
from __future__ import annotations

import functools
import logging
import time
import zlib
from datetime import timedelta

log = logging.getLogger("vo2.periodic")

KIT_JOBS = {"events.prune": 3600.0, "events.dead_letters": 300.0}
_jobs: dict[str, callable] = {}


def _lock_key(name: str) -> int:
    return zlib.crc32(f"vo2.periodic:{name}".encode())  # a stable 32-bit key per job name


@functools.lru_cache(maxsize=None)
def _task_for(name: str):
    from celery import shared_task

    def periodic_job():
        return run(name)

    periodic_job.__name__ = periodic_job.__qualname__ = name.replace(".", "_")
    return shared_task(name=name, ignore_result=True, acks_late=True)(periodic_job)


def job(name: str):
    """Register `fn` as the periodic job `name` (also a Celery task of that name, sent by the beat)."""
    def register(fn):
        _jobs[name] = fn
        _task_for(name)
        return fn
    return register


def run(name: str):
    """Run one job under its lock; returns what it returned, or "skipped" when another run holds the lock."""
    from django.db import close_old_connections, connection

    if name not in _jobs:  # called outside a worker (tests, a command): load the service's task modules first
        import importlib

        from django.conf import settings

        importlib.import_module(f"{settings.SERVICE_NAME}.celery").app.loader.import_default_modules()
    from django.conf import settings

    from . import metrics

    fn = _jobs[name]
    close_old_connections()
    started, outcome = time.perf_counter(), "crashed"
    try:
        if connection.vendor != "postgresql":
            result = fn()
        else:
            key = _lock_key(name)
            with connection.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
                if not cur.fetchone()[0]:
                    log.info("periodic %s: another run holds its lock; skipped", name)
                    outcome = "skipped"
                    return "skipped"
            try:
                result = fn()
            finally:
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s)", [key])
        outcome = "done"
    finally:  # the kit's job metrics (vo2_jobs_total by outcome, vo2_job_duration_seconds)
        metrics.JOBS.labels(settings.SERVICE_NAME, name, outcome).inc()
        metrics.JOB_DURATION.labels(settings.SERVICE_NAME, name).observe(time.perf_counter() - started)
    log.info("periodic %s: %s", name, result)
    return result


def send_all_now(app) -> None:
    """Send every scheduled job once, when a beat starts: the beat's schedule counts from its start, so without this
    a beat restarted more often than a job's interval would never send it (the jobs are idempotent)."""
    for entry in (app.conf.beat_schedule or {}).values():
        app.send_task(entry["task"], **entry.get("options", {}))


def beat_config(service: str, schedule: dict[str, float]) -> dict:
    """The Celery settings of a service's beat (servicekit.celery.make_celery reads `settings.PERIODIC_JOBS`)."""
    from django.conf import settings

    return {
        "beat_schedule": {name: {"task": name, "schedule": float(every),
                                 "options": {"expires": max(60.0, float(every))}}  # a stale send is dropped
                          for name, every in schedule.items()},
        "beat_schedule_filename": str(settings.VO2_DATA_DIR) + f"/beat-{service}",  # the data volume (root is RO)
        # the beat's heartbeat (servicekit.beat): a tick at least every 30 s, whatever the jobs' intervals
        "beat_scheduler": "servicekit.beat:Scheduler",
        "beat_max_loop_interval": 30,
    }


# ---- the kit's own jobs -------------------------------------------------------------------------------------------

@job("events.prune")
def prune_events() -> dict:
    from django.conf import settings
    from django.utils import timezone

    from .events.models import InboxEvent, OutboxEvent

    now = timezone.now()
    outbox_days = int(getattr(settings, "OUTBOX_KEEP_DAYS", 7))
    inbox_days = int(getattr(settings, "INBOX_KEEP_DAYS", 30))
    sent, _ = OutboxEvent.objects.filter(sent_at__isnull=False, sent_at__lt=now - timedelta(days=outbox_days)).delete()
    seen, _ = InboxEvent.objects.filter(received_at__lt=now - timedelta(days=inbox_days)).delete()
    return {"outbox_sent_removed": sent, "inbox_removed": seen}


@job("events.dead_letters")
def report_dead_letters() -> int:
    from django.conf import settings

    waiting = dead_letters_waiting(settings.SERVICE_NAME)
    if waiting:
        log.error("dead letters waiting: %d in %s (see: manage.py dead_letters list; then replay)", waiting,
                  f"{settings.SERVICE_NAME}.events.dlq", extra={"dead_letters": waiting})
    return waiting


def dead_letters_waiting(service: str, url: str | None = None) -> int:
    """How many messages wait in the service's dead-letter queue (declared if missing; nothing is consumed)."""
    from .events import broker

    with broker.connection(url) as conn:
        channel = conn.channel()
        broker.DEAD_LETTER_EXCHANGE(channel).declare()
        queue = broker.dead_letter_queue(service)(channel)
        declared = queue.queue_declare()
        channel.close()
    return int(declared.message_count if hasattr(declared, "message_count") else declared[1])
