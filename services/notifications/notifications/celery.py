"""The notifications Celery app: the kit's factory (`celery -A notifications.celery worker -Q notifications.tasks`).
Its periodic jobs (webhook sweep, retention, the kit's) are in settings.PERIODIC_JOBS, sent by
`celery -A notifications.celery beat` (servicekit.periodic).

Pool: threads, WORKER_THREADS of them (a worker started without --pool/--concurrency takes these; local mode's
background thread too, launcher/local_process.py). A delivery spends its time waiting on the receiver's answer and
the database, so threads let many go out at once in one process (the per-endpoint limit, WEBHOOK_MAX_IN_FLIGHT,
still bounds what one receiver gets), where a prefork child would hold a whole process per waiting request."""
from django.conf import settings

from servicekit.celery import make_celery

app = make_celery("notifications", worker_pool="threads", worker_concurrency=settings.WORKER_THREADS)
