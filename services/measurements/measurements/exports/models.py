"""An athlete's data export (GDPR art. 15/20): one ZIP of everything the lab holds about the athlete."""
import uuid

from django.db import models

from servicekit.django.idempotency import CreatedOnce
from servicekit import jobs
from servicekit.jobs import JobRow
from servicekit.tenancy import TenantOwned


class AthleteExport(JobRow, CreatedOnce, TenantOwned):
    # JobRow: status queued → running (stage gathering → reports → writing) → done | failed, progress, attempts,
    # generation, problem. CreatedOnce: the POST's Idempotency-Key.
    Status = jobs.Status

    class Stage(models.TextChoices):
        GATHERING = "gathering"   # the athlete, tests, samples, results, lactate steps, uploads
        REPORTS = "reports"       # every report file, from the reports service
        WRITING = "writing"       # the ZIP stored

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    athlete = models.ForeignKey("athletes.Athlete", on_delete=models.CASCADE, related_name="exports")
    file_key = models.CharField(max_length=500, blank=True, default="")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    contents = models.JSONField(default=dict, blank=True)  # counts per part, for the status resource
    expires_at = models.DateTimeField(null=True, blank=True)  # set when done: the file goes then (410 after)
    created_by = models.UUIDField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "athlete_export"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "created_by", "idempotency_key"],
                                               name="athlete_export_creator_idempotency_uniq")]


class ExportExpiry(models.Model):
    """When a ready export's file is to be removed. The periodic job reads it across tenants (no row level security
    here, as webhooks' RetryDue); ids and a time only."""

    export_id = models.UUIDField(primary_key=True)
    tenant_id = models.UUIDField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "athlete_export_expiry"
