"""Reads of deletion requests as the caller may see them (the tenant's, through the scoped manager)."""
from __future__ import annotations

from .models import Deletion


def deletion_of(scope: str, subject_id) -> Deletion | None:
    return Deletion.objects.filter(scope=scope, subject_id=subject_id).first()
