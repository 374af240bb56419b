import uuid

from django.db import models


class ApiKey(models.Model):
    """An integrator's key for one tenant, with a role (never owner). Only the SHA-256 of the secret is kept, and
    its first characters (`prefix`) so people recognise it. Not a tenant-owned table: the gateway's exchange finds a
    key by its hash before any tenant is known (as refresh tokens are); tenant reads filter on tenant_id
    (queries.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant_id = models.UUIDField(db_index=True)
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=20)
    prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_by = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_key"
        indexes = [models.Index(fields=["tenant_id", "revoked_at"])]

    def __str__(self):
        return f"{self.prefix}… ({self.name})"
