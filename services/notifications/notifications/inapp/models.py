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
