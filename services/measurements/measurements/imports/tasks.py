"""The import job on measurements' own Celery queue (the kit's factory: late acks, reject on worker lost — a killed
worker's job is delivered again, and the pipeline is idempotent, so it completes once in effect).

`run_import.enqueue(import_id, tenant_id)` hands an accepted (or re-run) import over after the request commits;
IMPORT_DISPATCH says how: "celery" (a worker runs it), "inline" (this process, right after the commit: tests and a
one-process lab) or "none" (someone calls `run_import.run(...)`).
"""
from __future__ import annotations

from servicekit import jobs, periodic

from ..celery import app
from . import pipeline

MAX_RETRIES = 5  # passing failures (analysis or identity unreachable): retried with backoff, then failed

run_import = jobs.background_job(app, "measurements.imports.run_import", max_retries=MAX_RETRIES,
                                 give_up=pipeline.give_up, crashed=pipeline.crashed,
                                 dispatch_setting="IMPORT_DISPATCH")(pipeline.run_import)


@periodic.job("measurements.uploads.remove_expired")
def remove_expired_uploads() -> int:
    """Periodic (measurements' beat): uploaded files past their tenant's retention period."""
    from . import actions

    return actions.remove_expired_uploads()
