import uuid

from django.db import models

from servicekit.tenancy import TenantOwned


class Notification(TenantOwned):
    """An in-app notification for one user of one tenant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=100)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    event_id = models.UUIDField(null=True, blank=True, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notification"
        indexes = [models.Index(fields=["tenant_id", "user_id", "created_at"])]

    def __str__(self):
        return self.title


class Progress(TenantOwned):
    """Where one import or report of a user stands, as its service's progress events said (the latest only: a
    stream that reconnects gets the current state, not every step). Live on the stream as `event: progress`."""

    IMPORT, REPORT = "import", "report"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField()
    subject = models.CharField(max_length=10)          # import | report
    subject_id = models.UUIDField()
    status = models.CharField(max_length=10)           # queued | running | done | failed
    stage = models.CharField(max_length=20, blank=True, default="")
    progress = models.PositiveSmallIntegerField(default=0)
    generation = models.PositiveIntegerField(default=1)  # the job's run (a re-run starts over)
    data = models.JSONField(default=dict, blank=True)  # ids that link it (test, athlete)
    updated_at = models.DateTimeField()                # set by the write: the stream's order and event id

    class Meta:
        db_table = "notification_progress"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "subject", "subject_id"],
                                               name="notification_progress_once")]
        indexes = [models.Index(fields=["tenant_id", "user_id", "updated_at"])]
