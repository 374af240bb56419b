"""The export job on measurements' own Celery queue (late acks: a killed worker's export runs again and the flow
rebuilds it whole) and the removal of expired export files (`measurements.exports.remove_expired`, for a beat
schedule; measurements.tasks runs it on a timer in every worker while no beat does)."""
from __future__ import annotations

from servicekit import jobs

from ..celery import app
from . import flows

run_export = jobs.background_job(app, "measurements.exports.run_export", max_retries=5, give_up=flows.give_up,
                                 crashed=flows.crashed, dispatch_setting="EXPORT_DISPATCH")(flows.run_export)


@app.task(name="measurements.exports.remove_expired")
def remove_expired_task() -> int:
    return flows.remove_expired()
