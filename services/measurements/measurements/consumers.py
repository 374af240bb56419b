"""Events measurements consumes (`manage.py run_consumer`): the other services' confirmations of its deletion
requests, and identity's deletion of a tenant. Each handler runs in tenant_transaction(event.tenant_id) with its
inbox row (servicekit.events.consumer): a redelivered event is a no-op."""
from servicekit.events import Event, handles

from . import events
from .erasure import actions as erasure


@handles(events.REPORTS_DELETION_CONFIRMED)
def reports_confirmed(event: Event) -> None:
    erasure.record_confirmation("reports", event.data)


@handles(events.NOTIFICATIONS_DELETION_CONFIRMED)
def notifications_confirmed(event: Event) -> None:
    erasure.record_confirmation("notifications", event.data)


@handles(events.TENANT_DELETED)
def tenant_deleted(event: Event) -> None:
    erasure.erase_tenant(event.tenant_id, request_event_id=event.id)
