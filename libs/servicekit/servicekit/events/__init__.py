"""Events between services: CloudEvents envelopes validated against `contracts/events`, a transactional outbox
with a relay, and consumers with an inbox, bounded retries and dead letters.

    from servicekit.events import publish, handles

    publish("identity.invitation.created", {...}, tenant_id=tenant.id, subject=str(invitation.id))  # in a transaction

    @handles("identity.invitation.created")        # in <service>/consumers.py
    def on_invitation(event): ...                   # runs in tenant_transaction(event.tenant_id)

Processes: `manage.py run_relay` (a publishing service), `manage.py run_consumer` (a consuming service),
`manage.py dead_letters list|replay`. The Django app `servicekit.events` (tables events_outbox, events_inbox) is in
every service's INSTALLED_APPS through the settings builder.
"""
from .contracts import ContractError
from .envelope import Event, EnvelopeError
from .registry import handles

default_app_config = "servicekit.events.apps.EventsConfig"


def publish(event_type: str, data: dict, *, tenant_id, subject: str | None = None, version: int | None = None,
            using: str | None = None) -> str:
    """Write the event to the outbox in the caller's current transaction; returns the event id."""
    from .outbox import publish as _publish

    return _publish(event_type, data, tenant_id=tenant_id, subject=subject, version=version, using=using)


__all__ = ["publish", "handles", "Event", "ContractError", "EnvelopeError"]
