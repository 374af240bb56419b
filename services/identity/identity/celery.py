"""The Celery app of identity: the kit's factory. identity's only background jobs are its periodic ones
(settings.PERIODIC_JOBS), sent by `celery -A identity.celery beat`, run by `celery -A identity.celery worker`."""
from servicekit.celery import make_celery

app = make_celery("identity")
