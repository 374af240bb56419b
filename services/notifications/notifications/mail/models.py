import uuid

from django.db import models

from servicekit import jobs
from servicekit.tenancy import TenantOwned


class EmailDelivery(jobs.JobRow, TenantOwned):
    """One e-mail to send, and what happened to it (the delivery log), as a kit job row: queued when recorded,
    running at stage "sending" from the first attempt (a failed attempt keeps its problem until the next),
    done once sent, failed for good."""

    Status = jobs.Status

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.UUIDField(editable=False)
    kind = models.CharField(max_length=100)
    to_email = models.EmailField(max_length=254)
    language = models.CharField(max_length=5, default="en")
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")  # cleared once sent: it may hold a single-use link
    # the ids the message is about ({"athlete_id", "test_id", ...}): a deleted athlete's or test's e-mails go with it
    about = models.JSONField(default=dict, blank=True, db_default={})
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "email_delivery"
        constraints = [models.UniqueConstraint(fields=["event_id", "kind"], name="email_delivery_once_per_event")]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.kind} to {self.to_email} ({self.public_status})"

    @property
    def last_error(self) -> str:
        """Why the last attempt failed ("" when none has)."""
        return (self.problem or {}).get("detail", "")
