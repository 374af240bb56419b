"""The Celery app of measurements (the kit's factory: late acks, reject on worker lost, prefetch 1, JSON).

Worker: `celery -A measurements.celery worker -Q measurements.tasks --concurrency 2` (queue: MEASUREMENTS_QUEUE).
"""
from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "measurements.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from servicekit.celery import make_celery  # noqa: E402

app = make_celery("measurements", include=["measurements.imports.tasks"],
                  task_default_queue=settings.CELERY_QUEUE, task_default_exchange=settings.CELERY_QUEUE,
                  task_default_routing_key=settings.CELERY_QUEUE)
