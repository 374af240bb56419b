"""measurements' events, by name: the one home of the event types it publishes (and would consume, in consumers.py).

`emit()` writes an event in the caller's transaction (a rolled-back change publishes nothing); the relay
(`manage.py run_relay`) sends it to the `vo2.events` exchange. Payloads follow
contracts/events/measurements.*.v1.json (the kit validates them). It consumes the other services' deletion
confirmations and identity's tenant deletion (consumers.py)."""
from __future__ import annotations

from servicekit.events import publish

TEST_IMPORTED = "measurements.test.imported"
TEST_ANALYZED = "measurements.test.analyzed"
TEST_DELETED = "measurements.test.deleted"
IMPORT_FAILED = "measurements.import.failed"
IMPORT_PROGRESSED = "measurements.import.progressed"  # each stage of an import's job (live progress)
ATHLETE_DELETED = "measurements.athlete.deleted"
DELETION_CONFIRMED = "measurements.deletion.confirmed"  # a tenant's rows and files erased (for identity)

# consumed (measurements.consumers)
REPORTS_DELETION_CONFIRMED = "reports.deletion.confirmed"
NOTIFICATIONS_DELETION_CONFIRMED = "notifications.deletion.confirmed"
TENANT_DELETED = "identity.tenant.deleted"


def emit(event_type: str, data: dict, *, tenant_id, subject: str | None = None) -> str:
    return publish(event_type, {k: v for k, v in data.items() if v is not None}, tenant_id=str(tenant_id),
                   subject=subject)
