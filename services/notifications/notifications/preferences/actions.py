"""Writes of preferences: the whole document at once (PUT)."""
from __future__ import annotations

from servicekit.principal import Principal

from .models import Language, Preference


def replace(by: Principal, *, kinds: dict[str, dict[str, bool]], language: str | None) -> None:
    for kind, chosen in kinds.items():
        Preference.objects.update_or_create(tenant_id=by.tenant_id, user_id=by.user_id, kind=kind,
                                            defaults={"in_app": chosen["in_app"], "email": chosen["email"]})
    if language:
        Language.objects.update_or_create(tenant_id=by.tenant_id, user_id=by.user_id,
                                          defaults={"language": language})
    else:
        Language.objects.filter(user_id=by.user_id).delete()
