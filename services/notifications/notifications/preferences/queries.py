"""A user's channels per kind: their own choices over the defaults."""
from __future__ import annotations

from .kinds import DEFAULTS
from .models import Language, Preference


def channels(user_id) -> dict[str, dict[str, bool]]:
    chosen = {p.kind: {"in_app": p.in_app, "email": p.email} for p in Preference.objects.filter(user_id=user_id)}
    return {kind: chosen.get(kind, dict(default)) for kind, default in DEFAULTS.items()}


def language(user_id) -> str | None:
    row = Language.objects.filter(user_id=user_id).first()
    return row.language if row else None
