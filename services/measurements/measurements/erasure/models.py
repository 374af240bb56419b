"""Deletion requests measurements sent to the other services (an athlete's, a test's) and their confirmations."""
import uuid

from django.db import models

from servicekit.erasure import ErasureRequest
from servicekit.tenancy import TenantOwned


class Deletion(ErasureRequest, TenantOwned):
    """One athlete's or one test's deletion: what measurements removed itself (in the deleting transaction), the
    request event it sent (re-sent as it was while a service has not confirmed), and each service's confirmation.
    Ids, counts and times only: the record that the data went outlives the data."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=200)
    event_data = models.JSONField(default=dict)
    removed_here = models.JSONField(default=dict, blank=True)  # {"tests": n, "samples": n, ...}

    class Meta:
        db_table = "deletion_request"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "scope", "subject_id"],
                                               name="deletion_request_once_per_subject")]


class DeletionDue(models.Model):
    """When an unconfirmed request is due to be sent again. The periodic job reads it across tenants (hence no row
    level security here, as webhooks' RetryDue); it holds ids and a time only."""

    deletion_id = models.UUIDField(primary_key=True)
    tenant_id = models.UUIDField()
    due_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "deletion_due"
