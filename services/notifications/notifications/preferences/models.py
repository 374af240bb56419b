import uuid

from django.db import models

from servicekit.tenancy import TenantOwned


class Preference(TenantOwned):
    """One user's choice for one kind of notification: in-app and/or e-mail (a kind without a row: the default)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField()
    kind = models.CharField(max_length=100)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_preference"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "user_id", "kind"], name="preference_once")]


class Language(TenantOwned):
    """The language a user chose for their notifications (else the one identity gave: the tenant's)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField()
    language = models.CharField(max_length=5)

    class Meta:
        db_table = "notification_language"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "user_id"], name="language_once")]
