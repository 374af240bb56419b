"""Reads of the tombstones (the current tenant's): was this event's test, athlete or tenant erased here? Inside a
consumer's batch each subject is read once, or for the whole batch at once by `preload`; the erasure's writes keep
that cache true (`buried_now`)."""
from __future__ import annotations

from servicekit import erasure
from servicekit.events import batch

from .models import ErasedSubject

CACHE = "erasure.buried"


def _wanted(tenant_id, test_ids, athlete_ids) -> list[tuple[str, str]]:
    return ([("tenant", str(tenant_id))] if tenant_id else []) + [("test", str(t)) for t in test_ids if t] + \
        [("athlete", str(a)) for a in athlete_ids if a]


def _read(wanted: list[tuple[str, str]], known: dict) -> None:
    missing = [w for w in dict.fromkeys(wanted) if w not in known]
    if not missing:
        return
    found = erasure.buried(ErasedSubject, tests=[i for s, i in missing if s == "test"],
                           athletes=[i for s, i in missing if s == "athlete"],
                           tenant=next((i for s, i in missing if s == "tenant"), None))
    known.update({w: w in found for w in missing})


def preload(tenant_id, test_ids=(), athlete_ids=()) -> None:
    """These subjects' tombstones into the batch's cache: one query for a whole batch."""
    if batch.current() is None:
        return
    _read(_wanted(tenant_id, test_ids, athlete_ids), batch.cache(CACHE))


def erased(tenant_id, *, test_id=None, athlete_id=None) -> bool:
    """Whether notifications erased the tenant, the test or the athlete (a late event must not write about it)."""
    wanted = _wanted(tenant_id, [test_id], [athlete_id])
    known = batch.cache(CACHE)
    _read(wanted, known)
    return any(known[w] for w in wanted)


def buried_now(tenant_id, scope: str, subject_id, tests=()) -> None:
    """The erasure just buried these: the batch's later events see it."""
    known = batch.cache(CACHE)
    known[(scope, str(subject_id))] = True
    known.update({("test", str(t)): True for t in tests if t})
