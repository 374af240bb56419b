"""Events identity consumes (`manage.py run_consumer`): each service's confirmation that it erased a tenant the
operator deleted. The handler runs in tenant_transaction(event.tenant_id) with its inbox row: a redelivery is a
no-op."""
from servicekit.events import Event, handles

from . import events
from .accounts import actions


@handles(events.MEASUREMENTS_DELETION_CONFIRMED)
def measurements_confirmed(event: Event) -> None:
    actions.record_tenant_deletion_confirmation("measurements", event.data)


@handles(events.REPORTS_DELETION_CONFIRMED)
def reports_confirmed(event: Event) -> None:
    actions.record_tenant_deletion_confirmation("reports", event.data)


@handles(events.NOTIFICATIONS_DELETION_CONFIRMED)
def notifications_confirmed(event: Event) -> None:
    actions.record_tenant_deletion_confirmation("notifications", event.data)
