import uuid

from django.db import models

from servicekit.tenancy import TenantOwned


class EmailDelivery(TenantOwned):
    """One e-mail to send, and what happened to it (the delivery log)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.UUIDField(editable=False)
    kind = models.CharField(max_length=100)
    to_email = models.EmailField(max_length=254)
    language = models.CharField(max_length=5, default="en")
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")  # cleared once sent: it may hold a single-use link
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "email_delivery"
        constraints = [models.UniqueConstraint(fields=["event_id", "kind"], name="email_delivery_once_per_event")]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.kind} to {self.to_email} ({self.status})"
