"""One Celery configuration for every service's own background jobs (`make_celery("notifications")`).

Broker: settings.BROKER_URL / env BROKER_URL (RabbitMQ in SaaS; in local mode the kit's safe filesystem transport
in `VO2_BROKER_DIR`, default `$VO2_DATA_DIR/broker`, the same folder the events use). JSON only; late acks and
`task_reject_on_worker_lost` so a killed worker's job runs again (tasks must be idempotent); prefetch 1; the
service's own queue `<service>.tasks`; no result backend (tasks record their outcome in the service's database).

A Django service's `celery.py` is one line, `app = make_celery("<service>")`: Django is set up from
`<service>.settings`, the queue is `settings.CELERY_QUEUE` (default `<service>.tasks`), and the task modules are
every `tasks.py` of the service's own apps plus `<service>/tasks.py`, found by name. Tasks repeat none of these
flags; background jobs use `servicekit.jobs.background_job`.

Worker: `celery -A <service>.celery worker -Q <service>.tasks --concurrency N` (see the service's celery.py).
"""
from __future__ import annotations

import importlib.util
import os
import threading

from celery import Celery, bootsteps

from .events import broker as _broker


def _setup_django(service: str, django_settings: str | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", django_settings or f"{service}.settings")
    import django
    from django.apps import apps

    if not apps.ready and not apps.loading:
        django.setup()


def task_modules(service: str) -> list[str]:
    """`<app>.tasks` of each of the service's own installed apps, and `<service>.tasks`, where they exist."""
    from django.conf import settings

    names = [app + ".tasks" for app in settings.INSTALLED_APPS if app.startswith(service + ".")]
    names.append(service + ".tasks")
    return [n for n in names if importlib.util.find_spec(n) is not None]


def make_celery(service: str, *, django_settings: str | None = None, include: list[str] | None = None,
                broker_url: str | None = None, django: bool = True, **overrides) -> Celery:
    queue = f"{service}.tasks"
    if django:
        _setup_django(service, django_settings)
        from django.conf import settings

        queue = getattr(settings, "CELERY_QUEUE", None) or queue
        if include is None:
            include = task_modules(service)
        schedule = getattr(settings, "PERIODIC_JOBS", None) or {}
        if schedule:  # the beat's schedule; the worker loads the kit's jobs beside the service's own
            from . import periodic

            include = [*include, "servicekit.periodic"]
            overrides = {**periodic.beat_config(service, schedule), **overrides}
    url = _broker.broker_url(broker_url)
    conf = {
        "broker_url": url,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # off: after a reconnection Celery restores the prefetch count from the thread that acks a task, a blocking
        # basic.qos on the consumer's connection that the main thread reads too; with the threads pool the two
        # readers deadlock the worker (seen when the broker restarted mid-burst: tests/test_delivery_kills.py)
        "worker_enable_prefetch_count_reduction": False,
        "task_default_queue": queue,
        "task_default_exchange": queue,
        "task_default_exchange_type": "direct",
        "task_default_routing_key": queue,
        "task_create_missing_queues": True,
        "result_backend": None,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "worker_hijack_root_logger": False,
        "enable_utc": True,
        "timezone": "UTC",
    }
    if _broker.is_filesystem(url):
        conf.update({
            "broker_url": "filesystem://",
            "broker_transport": _broker.FILESYSTEM_TRANSPORT,
            "broker_transport_options": _broker.filesystem_options(),
            # fanout control queues (remote control, task events) would pile up in a folder nobody reads
            "worker_enable_remote_control": False,
            "worker_send_task_events": False,
            "task_send_sent_event": False,
        })
    elif _broker.is_amqp(url):
        conf["broker_transport_options"] = {"confirm_publish": True}
    conf.update(overrides)
    app = Celery(service, include=include or [])
    app.conf.update(conf)
    _observe_workers(app, service)
    return app


def _observe_workers(app: Celery, service: str) -> None:
    """A worker of this app serves its metrics (METRICS_PORT; with the prefork pool the main process serves what
    every child recorded, PROMETHEUS_MULTIPROC_DIR), traces its jobs, and samples its queue's depth."""
    from celery import signals

    from . import metrics, tracing

    def started(sender=None, **_):
        if getattr(sender, "app", app) is not app:
            return
        metrics.loop_starting("worker", WORKER_HEARTBEAT_SECONDS)  # healthy once its consumer runs (_Heartbeat)
        tracing.setup(service, role="worker")
        if metrics.serve():
            threading.Thread(target=_sample_queue_depth, args=(app, service), name="queue-depth",
                             daemon=True).start()

    def child_ended(pid=None, **_):
        metrics.process_died(pid or os.getpid())

    def beat_started(sender=None, **_):  # `celery beat`: its metrics endpoint, and every job sent once at start
        from . import periodic

        metrics.serve()
        periodic.send_all_now(app)

    app.steps["consumer"].add(_Heartbeat)
    signals.worker_init.connect(started, weak=False)
    signals.beat_init.connect(beat_started, weak=False)
    signals.worker_process_shutdown.connect(child_ended, weak=False)


# The worker's heartbeat (the metrics port's /healthz, Kubernetes' probes): its consumer's timer beats every
# WORKER_BEAT_EVERY seconds while the consumer runs (the event loop that takes jobs in; with the prefork pool jobs
# run in child processes, so a long job does not stop it; the solo pool of local mode beats between jobs).
WORKER_BEAT_EVERY = 10.0
WORKER_HEARTBEAT_SECONDS = 120.0


class _Heartbeat(bootsteps.StartStopStep):
    """A consumer step: started when the consumer works (connected, consuming), stopped when it stops or restarts
    (a lost broker connection), so the heartbeat says the worker is taking jobs in."""

    requires = ("celery.worker.consumer.tasks:Tasks",)  # after the task consumer is set up

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.tref = None

    def start(self, parent):
        from . import metrics

        metrics.heartbeat("worker", max_age=WORKER_HEARTBEAT_SECONDS)
        self.tref = parent.timer.call_repeatedly(WORKER_BEAT_EVERY, metrics.heartbeat, ("worker",))

    def stop(self, parent):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


QUEUE_SAMPLE_SECONDS = 15.0


def _sample_queue_depth(app: Celery, service: str, every: float = QUEUE_SAMPLE_SECONDS) -> None:
    """`vo2_job_queue_depth`: the jobs waiting in the worker's queue, every `every` seconds (a passive declare;
    on RabbitMQ the broker's count, in local mode the queue folder's)."""
    import logging
    import time

    from . import metrics

    log = logging.getLogger("vo2.metrics")
    queue = app.conf.task_default_queue
    depth = metrics.JOB_QUEUE_DEPTH.labels(service, queue)
    while True:
        try:
            with app.connection_for_read() as conn:
                while True:
                    _, waiting, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
                    depth.set(waiting)
                    time.sleep(every)
        except Exception as exc:  # broker away or the queue not declared yet: try again later
            log.debug("queue depth of %s not read: %s", queue, exc)
            time.sleep(every)
