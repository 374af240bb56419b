"""The periodic re-emission of unconfirmed deletion requests: a plain function (`reemit_unconfirmed`) and its Celery
task (`measurements.erasure.reemit_unconfirmed`) for a beat schedule (measurements.celery); measurements.tasks runs
it on a timer in every worker while no beat does. Idempotent: two workers sending the same request again cost one
more confirmation each, nothing else."""
from __future__ import annotations

import logging

from django.db import transaction

from servicekit.tenancy import tenant_transaction

from ..celery import app
from . import actions

log = logging.getLogger(__name__)


def reemit_unconfirmed() -> int:
    """Send again every request no service confirmed in time (DELETION_CONFIRM_WITHIN_S, then doubling waits)."""
    with transaction.atomic():
        due = actions.due()
    sent = 0
    for deletion_id, tenant_id in due:
        with tenant_transaction(tenant_id):
            sent += actions.reemit(deletion_id)
    if sent:
        log.info("re-sent %d unconfirmed deletion request(s)", sent)
    return sent


@app.task(name="measurements.erasure.reemit_unconfirmed")
def reemit_unconfirmed_task() -> int:
    return reemit_unconfirmed()
