"""The Celery app of measurements: the kit's factory (Django set up, queue settings.CELERY_QUEUE, every tasks.py).

Worker: `celery -A measurements.celery worker -Q measurements.tasks --concurrency 2` (queue: MEASUREMENTS_QUEUE).
"""
from servicekit.celery import make_celery

app = make_celery("measurements")

# periodic work: each worker runs it on a timer (measurements.tasks); or a beat (`celery -A measurements.celery beat`)
# with MEASUREMENTS_PERIODIC_IN_WORKER=false
from django.conf import settings  # noqa: E402  (the factory set Django up)

# the beat (servicekit.periodic: settings.PERIODIC_JOBS, one per service) sends these too when the timer is off
app.conf.beat_schedule = {**app.conf.beat_schedule, **({} if settings.MEASUREMENTS_PERIODIC_IN_WORKER else {
    "erasure-reemit-unconfirmed": {"task": "measurements.erasure.reemit_unconfirmed",
                                   "schedule": settings.MEASUREMENTS_PERIODIC_SECONDS},
    "exports-remove-expired": {"task": "measurements.exports.remove_expired",
                               "schedule": settings.MEASUREMENTS_PERIODIC_SECONDS},
})}
