"""Celery tasks of measurements (its own queue; late acks and reject-on-worker-lost: a killed worker's job is
delivered again, and the pipeline is idempotent so it completes once in effect)."""
from __future__ import annotations

from ..celery import app
from . import pipeline

MAX_RETRIES = 5


@app.task(name="measurements.imports.run_import", bind=True, acks_late=True, reject_on_worker_lost=True,
          max_retries=MAX_RETRIES)
def run_import_task(self, import_id: str, tenant_id: str) -> str:
    try:
        return pipeline.run_import_reporting_unavailable(import_id, tenant_id,
                                                         final=self.request.retries >= MAX_RETRIES)
    except pipeline.Retry as exc:
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1)))
