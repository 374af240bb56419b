"""The Celery app of reports: the kit's factory (late acks, reject on worker lost, prefetch 1, JSON, the queue
settings.CELERY_QUEUE, every `<app>.tasks` of the service).

Worker: `celery -A reports.celery worker -Q reports.tasks --concurrency 2` (queue: REPORTS_QUEUE).
"""
from servicekit.celery import make_celery

app = make_celery("reports")
