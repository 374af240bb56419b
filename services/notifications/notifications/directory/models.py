"""What notifications learns from events about the people and the tests it tells about (it reads no other
service's database): members from identity.user.created / identity.invitation.accepted, tests from
measurements.test.imported."""
import uuid

from django.db import models

from servicekit.tenancy import TenantOwned


class Member(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField()
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=300, blank=True, default="")
    roles = models.JSONField(default=list)
    language = models.CharField(max_length=5, default="en")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "directory_member"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "user_id"], name="directory_member_once")]


class LabTest(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    test_id = models.UUIDField()
    athlete_id = models.UUIDField()
    athlete_name = models.CharField(max_length=300, blank=True, default="")
    date = models.CharField(max_length=10, blank=True, default="")  # ISO date as the event gave it
    imported_by = models.UUIDField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "directory_test"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "test_id"], name="directory_test_once")]
