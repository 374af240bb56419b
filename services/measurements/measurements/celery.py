"""The Celery app of measurements: the kit's factory (Django set up, queue settings.CELERY_QUEUE, every tasks.py).

Worker: `celery -A measurements.celery worker -Q measurements.tasks --concurrency 2` (queue: MEASUREMENTS_QUEUE).
"""
from servicekit.celery import make_celery

app = make_celery("measurements")
