"""Reads of imports as the caller may see them."""
from __future__ import annotations

from ..athletes.queries import visible_athletes
from ..exercise_tests.queries import only_own_data
from .models import Import


def visible_imports(principal):
    imports = Import.objects.all()
    if only_own_data(principal):
        imports = imports.filter(athlete__in=visible_athletes(principal))
    return imports



def upload_retention_days(tenant_id) -> int | None:
    from .models import UploadRetention

    return UploadRetention.objects.filter(tenant_id=tenant_id).values_list("days", flat=True).first()
