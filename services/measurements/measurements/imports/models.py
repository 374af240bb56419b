"""An uploaded cart export and the background job that turns it into a test with samples and a result."""
import uuid

from django.db import models

from servicekit.tenancy import TenantOwned


class Import(TenantOwned):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PARSING = "parsing"
        STORING = "storing"
        ANALYZING = "analyzing"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    athlete = models.ForeignKey("athletes.Athlete", on_delete=models.CASCADE, related_name="imports")
    test = models.ForeignKey("exercise_tests.ExerciseTest", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="imports")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.JSONField(null=True, blank=True)  # the problem object when failed
    # The stored upload (a key of the file storage, never a path a client chose).
    file_key = models.CharField(max_length=500)
    filename = models.CharField(max_length=255, blank=True, default="")
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    format_hint = models.CharField(max_length=40, blank=True, default="")
    modality = models.CharField(max_length=10, blank=True, default="")
    detected_format = models.CharField(max_length=40, blank=True, default="")
    warnings = models.JSONField(default=list, blank=True)
    # A (re-)run is one generation; its stages are done once per generation, which makes the task idempotent.
    generation = models.PositiveIntegerField(default=1)
    stored_generation = models.PositiveIntegerField(default=0)
    analyzed_generation = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    created_by = models.UUIDField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "import_job"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "idempotency_key"],
                                               name="import_tenant_idempotency_uniq")]
