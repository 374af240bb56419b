"""The outbox (events written with the change they report) and the inbox (event ids already handled).

Neither is tenant-owned in the RLS sense: the relay reads every tenant's pending events, and the inbox is checked
before the tenant's work runs. Both still carry the tenant id for operators.
"""
from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxEvent(models.Model):
    id = models.BigAutoField(primary_key=True)  # relay order
    event_id = models.UUIDField(unique=True)
    type = models.CharField(max_length=200)
    tenant_id = models.UUIDField(null=True, blank=True)
    body = models.TextField()  # the CloudEvent envelope, serialized once
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "events_outbox"
        indexes = [
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="events_outbox_pending"),
            models.Index(fields=["sent_at"], condition=Q(sent_at__isnull=False), name="events_outbox_sent"),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class InboxEvent(models.Model):
    event_id = models.UUIDField(primary_key=True)
    type = models.CharField(max_length=200)
    source = models.CharField(max_length=200, blank=True, default="")
    tenant_id = models.UUIDField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "events_inbox"

    def __str__(self):
        return f"{self.type} {self.event_id}"
