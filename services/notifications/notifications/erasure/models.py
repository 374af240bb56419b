"""The tests, athletes and tenants notifications erased (ids only, kept after their data): a late event about one of
them writes nothing and calls no webhook (servicekit.erasure.Tombstone; reports keeps the same table)."""
from django.db import models

from servicekit import erasure
from servicekit.tenancy import TenantOwned


class ErasedSubject(erasure.Tombstone, TenantOwned):
    class Meta:
        db_table = "erased_subject"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "scope", "subject_id"],
                                               name="erased_subject_unique")]
