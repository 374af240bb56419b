"""The beat's scheduler: Celery's own (PersistentScheduler, the schedule file on the data volume) with a heartbeat
on every tick, which the metrics port's `/healthz` reports (Kubernetes' probes of the beat; servicekit.metrics).
servicekit.periodic.beat_config names it and makes the beat tick at least every 30 s."""
from __future__ import annotations

from celery.beat import PersistentScheduler

from . import metrics

HEARTBEAT_SECONDS = 120.0  # four ticks missed


class Scheduler(PersistentScheduler):
    def setup_schedule(self):
        metrics.loop_starting("beat", HEARTBEAT_SECONDS)
        super().setup_schedule()

    def tick(self, *args, **kwargs):
        metrics.heartbeat("beat", max_age=HEARTBEAT_SECONDS)
        return super().tick(*args, **kwargs)
