"""An uploaded cart export and the background job that turns it into a test with samples and a result."""
import uuid

from django.db import models

from servicekit.django.idempotency import CreatedOnce
from servicekit.jobs import JobRow
from servicekit.tenancy import TenantOwned


class Import(JobRow, CreatedOnce, TenantOwned):
    # JobRow: status (queued → running → done | failed), stage while running, progress, attempts, generation, the
    # problem it failed with. CreatedOnce: the upload's Idempotency-Key, so that a retried upload is this import.
    class Stage(models.TextChoices):
        PARSING = "parsing"
        STORING = "storing"
        ANALYZING = "analyzing"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    athlete = models.ForeignKey("athletes.Athlete", on_delete=models.CASCADE, related_name="imports")
    test = models.ForeignKey("exercise_tests.ExerciseTest", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="imports")
    # The stored upload (a key of the file storage, never a path a client chose).
    file_key = models.CharField(max_length=500)
    filename = models.CharField(max_length=255, blank=True, default="")
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    format_hint = models.CharField(max_length=40, blank=True, default="")
    modality = models.CharField(max_length=10, blank=True, default="")
    detected_format = models.CharField(max_length=40, blank=True, default="")
    warnings = models.JSONField(default=list, blank=True)
    # the same warnings, each {code, params, message} (the reader's codes, or the result's flag codes), so that a
    # client can say them in its language; `warnings` keeps the English texts for the clients that read those
    warning_details = models.JSONField(default=list, blank=True)
    # Each stage is done once per generation (a re-run is the next one), which makes the task idempotent.
    stored_generation = models.PositiveIntegerField(default=0)
    analyzed_generation = models.PositiveIntegerField(default=0)
    created_by = models.UUIDField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # the stored upload was removed after the tenant's retention period (the test and its samples stay)
    file_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "import_job"
        # the plan's monthly import count and the retention sweep select a tenant's imports by date
        indexes = [models.Index(fields=["tenant_id", "created_at"], name="import_job_tenant_created")]
        constraints = [models.UniqueConstraint(fields=["tenant_id", "created_by", "idempotency_key"],
                                               name="import_creator_idempotency_uniq")]

    @property
    def folder(self) -> str:
        """The storage prefix of this import's files."""
        return f"{self.tenant_id}/{self.pk}"


class UploadRetention(TenantOwned):
    """How long the tenant keeps uploaded exports after their import (None: as long as the test exists). The tests,
    samples and results stay; only the original file goes, so a re-run of an older import is no longer possible."""

    id = models.BigAutoField(primary_key=True)
    days = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.UUIDField(null=True, blank=True)

    class Meta:
        db_table = "upload_retention"
        constraints = [models.UniqueConstraint(fields=["tenant_id"], name="upload_retention_one_per_tenant")]
