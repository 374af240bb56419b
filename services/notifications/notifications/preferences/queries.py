"""A user's channels per kind: their own choices over the defaults. Inside a consumer's batch
(servicekit.events.batch) each user's are read once, or for the whole batch at once by `preload`."""
from __future__ import annotations

from servicekit.events import batch

from .kinds import DEFAULTS
from .models import Language, Preference


def _channels(chosen: dict) -> dict[str, dict[str, bool]]:
    return {kind: chosen.get(kind, dict(default)) for kind, default in DEFAULTS.items()}


def channels(user_id) -> dict[str, dict[str, bool]]:
    known = batch.cache("preferences.channels")
    if str(user_id) not in known:
        known[str(user_id)] = _channels({p.kind: {"in_app": p.in_app, "email": p.email}
                                         for p in Preference.objects.filter(user_id=user_id)})
    return known[str(user_id)]


def language(user_id) -> str | None:
    known = batch.cache("preferences.language")
    if str(user_id) not in known:
        row = Language.objects.filter(user_id=user_id).first()
        known[str(user_id)] = row.language if row else None
    return known[str(user_id)]


def preload(user_ids) -> None:
    """The channels and languages of these users into the batch's cache: two queries for a whole batch."""
    ids = sorted({str(u) for u in user_ids if u})
    if not ids or batch.current() is None:
        return
    chosen: dict[str, dict] = {u: {} for u in ids}
    for p in Preference.objects.filter(user_id__in=ids):
        chosen[str(p.user_id)][p.kind] = {"in_app": p.in_app, "email": p.email}
    batch.cache("preferences.channels").update({u: _channels(c) for u, c in chosen.items()})
    languages = {str(r.user_id): r.language for r in Language.objects.filter(user_id__in=ids)}
    batch.cache("preferences.language").update({u: languages.get(u) for u in ids})
