"""The Celery app of reports (the kit's factory: late acks, reject on worker lost, prefetch 1, JSON).

Worker: `celery -A reports.celery worker -Q reports.tasks --concurrency 2` (queue: REPORTS_QUEUE).
"""
from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reports.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from servicekit.celery import make_celery  # noqa: E402

app = make_celery("reports", include=["reports.documents.tasks"],
                  task_default_queue=settings.CELERY_QUEUE, task_default_exchange=settings.CELERY_QUEUE,
                  task_default_routing_key=settings.CELERY_QUEUE)
