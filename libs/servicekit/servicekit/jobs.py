"""Background jobs: one row shape, one lock, one task wrapper, one status vocabulary.

Every long piece of work a service does for a client (an import, a PDF, an e-mail, a webhook delivery) is a row the
client can poll and a Celery task that may be delivered twice (late acks: a killed worker's job runs again).

    class Import(JobRow, TenantOwned): ...            # status, stage, progress, attempts, generation, problem

    job = jobs.lock(Import, import_id)                # the row, locked for this transaction (None when gone)
    jobs.advance(job, "parsing", progress=10)         # status running, stage parsing
    jobs.finish(job)  /  jobs.fail(job, problem)      # done (100) / failed with a problem object

    run_import = jobs.background_job(app, "measurements.imports.run_import", give_up=fail_unavailable,
                                     dispatch_setting="IMPORT_DISPATCH")(pipeline.run_import)
    run_import.enqueue(import_id, tenant_id)          # after the caller's commit: Celery, inline or not at all

The job function raises `RetryLater` for a passing failure (a service down, a broker hiccup; a lost database
connection is treated the same way): the task is retried with backoff; on the final attempt the wrapper calls
`give_up(*args, reason=...)` instead, which fails the row with the reason. Status vocabulary: queued → running (with the job's own stage names) → done | failed.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from . import metrics, requestid, tracing

log = logging.getLogger("vo2.jobs")


class Status(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


FINISHED = (Status.DONE, Status.FAILED)


class JobRow(models.Model):
    """The columns of a background job's row. `generation` counts (re-)runs: a stage done for this generation is
    not done again, which is what makes a redelivered task harmless."""

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=20, blank=True, default="")   # the job's own word while running
    progress = models.PositiveSmallIntegerField(default=0)             # 0–100
    attempts = models.PositiveIntegerField(default=0)                  # task runs that started work
    generation = models.PositiveIntegerField(default=1)
    problem = models.JSONField(null=True, blank=True)                  # the problem object of the last failure
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def public_status(self) -> str:
        """What a status resource shows: the stage while running (e.g. "parsing"), else the status."""
        return self.stage if self.status == Status.RUNNING and self.stage else self.status


def lock(model, pk, *, related: tuple[str, ...] = ()):
    """The job's row (or any row) locked until the transaction ends (SELECT … FOR UPDATE OF the row on PostgreSQL;
    SQLite writes are serialised anyway), or None when it is gone. Call inside a (tenant) transaction."""
    rows = model.objects.select_for_update(of=("self",))
    if related:
        rows = rows.select_related(*related)
    return rows.filter(pk=pk).first()


def _write(job, fields: dict) -> None:
    if any(f.name == "updated_at" for f in job._meta.concrete_fields):
        fields.setdefault("updated_at", timezone.now())
    type(job).objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


def start(job, stage: str = "", progress: int | None = None, **fields) -> None:
    """A task run begins work on the job: counts the attempt."""
    fields["attempts"] = job.attempts + 1
    advance(job, stage or job.stage, progress=progress, **fields)


def advance(job, stage: str, progress: int | None = None, **fields) -> None:
    """Running, at `stage` (progress never goes back); other columns of the row may change with it."""
    fields.update(status=Status.RUNNING, stage=stage,
                  progress=max(job.progress, progress) if progress is not None else job.progress)
    _write(job, fields)


def finish(job, **fields) -> None:
    fields.update(status=Status.DONE, stage="", progress=100, problem=None, finished_at=timezone.now())
    _write(job, fields)


def fail(job, problem: dict, *, stage: str | None = None, **fields) -> None:
    """Failed, with a problem object (`servicekit.problems.problem(...)`, or another service's answer) and the
    stage it failed at."""
    kept = {k: problem.get(k) for k in ("type", "title", "status", "detail", "errors") if problem.get(k) is not None}
    kept["stage"] = stage if stage is not None else (job.stage or job.status)
    fields.update(status=Status.FAILED, problem=kept, finished_at=timezone.now())
    _write(job, fields)


def rerun(job, **fields) -> None:
    """A new generation of a finished job: queued again from the start."""
    fields.update(generation=job.generation + 1, status=Status.QUEUED, stage="", progress=0, problem=None,
                  finished_at=None)
    _write(job, fields)


# ---- the task wrapper --------------------------------------------------------------------------------------------

class RetryLater(Exception):
    """The job could not finish for a passing reason; try again later (`countdown` seconds, or the backoff)."""

    def __init__(self, reason: str, countdown: float | None = None):
        super().__init__(reason)
        self.reason, self.countdown = reason, countdown


REQUEST_ID_HEADER, TRACE_ID_HEADER, TRACEPARENT_HEADER = "vo2_request_id", "vo2_trace_id", "vo2_traceparent"


def _trace_headers() -> dict:
    """What a queued job carries of the request that queued it: its request id, its trace id and the span to
    continue (`traceparent`: the job's run is a child of the request's span)."""
    return {k: v for k, v in ((REQUEST_ID_HEADER, requestid.current_request_id()),
                              (TRACE_ID_HEADER, requestid.current_trace_id()),
                              (TRACEPARENT_HEADER, tracing.traceparent())) if v}


def _sent_headers(request) -> dict:
    """Message headers as the task sees them: request attributes from a worker, `request.headers` when eager."""
    found = dict(getattr(request, "headers", None) or {})
    for name in (REQUEST_ID_HEADER, TRACE_ID_HEADER, TRACEPARENT_HEADER):
        value = getattr(request, name, None)
        if value:
            found[name] = value
    return found


def default_backoff(retries: int) -> float:
    return min(60.0, 2.0 ** (retries + 1))


class BackgroundJob:
    """A job function and its Celery task. `run()` is one attempt in this process, `enqueue()` hands the job to the
    service's queue after the caller's transaction commits (DISPATCH setting: celery | inline | none)."""

    def __init__(self, app, name: str, fn: Callable, *, max_retries: int | None, backoff: Callable[[int], float],
                 give_up: Callable | None, crashed: Callable | None, dispatch_setting: str | None):
        self.fn, self.name, self.max_retries, self.backoff = fn, name, max_retries, backoff
        self.give_up, self.crashed, self.dispatch_setting = give_up, crashed, dispatch_setting
        self._local = threading.local()  # whether this thread's last run gave up (for the outcome metric)
        job = self

        # late acks, reject-on-worker-lost, JSON: the kit's Celery factory sets them for every task
        service = name.split(".", 1)[0]
        runs = {outcome: metrics.JOBS.labels(service, name, outcome)
                for outcome in ("done", "retry", "gave_up", "crashed")}
        duration, retries = metrics.JOB_DURATION.labels(service, name), metrics.JOB_RETRIES.labels(service, name)

        @app.task(name=name, bind=True, max_retries=None)
        def task(self, *args):
            final = job.max_retries is not None and self.request.retries >= job.max_retries
            # the request that queued the job names its log lines and its calls to other services, and its trace
            # goes on through this run (a consumer span, child of the request's)
            sent = _sent_headers(self.request)
            trace_id = sent.get(TRACE_ID_HEADER)
            parent = sent.get(TRACEPARENT_HEADER) or (f"00-{trace_id}-{requestid.make()[:16]}-01" if trace_id else None)
            bound = requestid.bind(sent.get(REQUEST_ID_HEADER) or f"job-{self.request.id}")
            started, outcome = time.perf_counter(), "crashed"
            try:
                with tracing.span(f"run {name}", "consumer", traceparent=parent,
                                  attributes={"messaging.operation.name": "process", "vo2.job": name,
                                              "vo2.job.attempt": self.request.retries + 1}):
                    try:
                        result = job.run(*args, final=final)
                        outcome = "gave_up" if job.gave_up_last else "done"
                        return result
                    except RetryLater as exc:
                        outcome = "retry"
                        retries.inc()
                        countdown = exc.countdown if exc.countdown is not None else job.backoff(self.request.retries)
                        raise self.retry(exc=exc, countdown=countdown)
            finally:
                runs[outcome].inc()
                duration.observe(time.perf_counter() - started)
                requestid.unbind(bound)

        self.task = task

    def run(self, *args, final: bool = True) -> Any:
        """One attempt. A `RetryLater` is raised again unless this is the final attempt, which gives up instead; an
        unexpected error is handed to `crashed` (the row says so) and raised again."""
        self._local.gave_up = False
        from django.db import InterfaceError, OperationalError

        try:
            try:
                return self.fn(*args)
            except (OperationalError, InterfaceError) as exc:
                # the database went away (a restart, a failover) or refused for now (a deadlock): a passing failure
                # like a service down, retried with the backoff, not a bug (`crashed` could not write the row
                # anyway); the broken connection is closed so that the next attempt opens a new one
                _close_broken_connections()
                raise RetryLater(f"database unavailable: {type(exc).__name__}: {str(exc)[:200]}") \
                    from exc
        except RetryLater as exc:
            if not final:
                raise
            log.warning("%s%r gives up: %s", self.name, args, exc.reason)
            self._local.gave_up = True
            return self.give_up(*args, reason=exc.reason) if self.give_up else None
        except Exception:
            if self.crashed is not None:
                log.exception("%s%r failed unexpectedly", self.name, args)
                self.crashed(*args)
            raise

    @property
    def gave_up_last(self) -> bool:
        return getattr(self._local, "gave_up", False)

    def __call__(self, *args, final: bool = True):
        return self.run(*args, final=final)

    def mode(self) -> str:
        from django.conf import settings

        return getattr(settings, self.dispatch_setting, "celery") if self.dispatch_setting else "celery"

    def send(self, *args, headers: dict | None = None) -> None:
        """To the service's queue now (settings.CELERY_QUEUE, read when sent: tests and workers may rename it), with
        the current request id and trace id as message headers."""
        from django.conf import settings

        if headers is None:
            headers = _trace_headers()
        self.task.apply_async(args=list(args), queue=getattr(settings, "CELERY_QUEUE", None), headers=headers)

    def enqueue(self, *args, recovered: bool = False) -> None:
        """After the current transaction commits (a rolled-back request queues nothing). `recovered=True`: the
        caller has its own way to find a job whose send failed (a sweep over its rows), so a broker error after
        the commit is logged, not raised into the code that committed."""
        mode = self.mode()
        if mode == "none":
            return
        if mode == "inline":
            transaction.on_commit(lambda: self._run_inline(*args))
            return
        headers = _trace_headers()

        def send():
            try:
                self.send(*args, headers=headers)
            except Exception as exc:
                if not recovered:
                    raise
                log.warning("%s%r not queued (%s: %s); its sweep will", self.name, args, type(exc).__name__, exc)

        transaction.on_commit(send)

    def _run_inline(self, *args) -> None:
        try:
            self.run(*args, final=True)
        except Exception:  # the request was answered (202); the row tells the rest
            if self.crashed is None:
                log.exception("%s%r failed unexpectedly", self.name, args)


def _close_broken_connections() -> None:
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - it is broken already; the next query reconnects
            pass


def background_job(app, name: str, *, max_retries: int | None = 5,
                   backoff: Callable[[int], float] = default_backoff, give_up: Callable | None = None,
                   crashed: Callable | None = None, dispatch_setting: str | None = None):
    """Decorator: `@background_job(app, "svc.area.job", give_up=..., crashed=...)` over `def job(*ids)`.

    `max_retries` Celery retries after the first run (None: the job decides when to stop raising RetryLater);
    `give_up(*args, reason)` marks the row failed on the final attempt; `crashed(*args)` marks it failed when the
    job raised something unexpected (a bug: the row must not stay "running" for ever)."""
    def wrap(fn: Callable) -> BackgroundJob:
        return BackgroundJob(app, name, fn, max_retries=max_retries, backoff=backoff, give_up=give_up,
                             crashed=crashed, dispatch_setting=dispatch_setting)
    return wrap
