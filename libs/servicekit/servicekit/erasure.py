"""Erasure across services (GDPR art. 17): one service asks, every service that holds data about the subject erases
it and confirms, and the asking service shows the confirmations and asks again while one is missing.

The asking side (measurements for an athlete or a test, identity for a tenant) keeps one row per request:

    class Deletion(erasure.ErasureRequest, TenantOwned): ...     # scope, subject, who, when, expected, confirmations
    erasure.record_confirmation(row, "reports", removed)          # on `reports.deletion.confirmed`
    erasure.body(row)                                             # what the deletion resource shows
    erasure.missing(row)                                          # the services still to confirm

The erasing side, in its consumer's handler (inside the event's tenant transaction), erases, then answers:

    erasure.confirm(events.DELETION_CONFIRMED, scope="athlete", subject_id=..., tenant_id=..., removed={...},
                    request_event_id=event.id)
    erasure.forget_events(tenant_id, [athlete_id, *test_ids])       # the events about it: outbox, dead letters
    erasure.bury(ErasedSubject, tenant_id, "athlete", athlete_id, tests=test_ids)  # late events bring nothing back
    erasure.erase_tenant(tenant_id)                                  # every tenant-owned row of this service's DB

Events about an erased subject (`forget_events`, the one mechanism every service's erasure uses; the service knows
which ids name the subject, the kit only finds the events that name them):
- sent outbox rows go: their payloads copy the subject's data (names, results) and would stay OUTBOX_KEEP_DAYS;
- unsent outbox rows go too: relayed after the erasure they would carry the data to services that are being told
  to erase it (and whose tombstones would drop them anyway); nothing is lost that anybody may still have;
- the service's own dead letters (`<service>.events.dlq`) that name it are dropped: a replay would bring the data
  back, and the payload is the data;
- the erasure's own events (requests `*.deleted`, answers `*.deletion.confirmed`) hold ids only and always stay,
  sent or not, in the outbox and among the dead letters (a dead-lettered request is for an operator to replay).

A repeated request (a redelivery, or the asker's periodic re-emission) finds nothing left, removes nothing and
confirms again: erasing is idempotent in effect, and the inbox makes a redelivered event a no-op.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.db.models import Q
from django.utils import timezone

SCOPES = ("athlete", "test", "tenant")
PENDING, CONFIRMED = "pending", "confirmed"


class ErasureRequest(models.Model):
    """The columns of a deletion request a service asked other services to carry out. Ids and times only: the
    request outlives the data it names (it is the record that the data went, and when)."""

    scope = models.CharField(max_length=10, choices=[(s, s) for s in SCOPES])
    subject_id = models.UUIDField(db_index=True)
    requested_by = models.UUIDField(null=True, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    expected = models.JSONField(default=list)        # the services that must confirm, e.g. ["reports", ...]
    # {service: {"confirmed_at": iso, "removed": {kind: n}, "confirmations": n}}
    confirmations = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)  # every expected service confirmed
    emitted = models.PositiveIntegerField(default=1)            # how many times the request went out
    last_emitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    @property
    def status(self) -> str:
        return CONFIRMED if self.completed_at else PENDING


def missing(row: ErasureRequest) -> list[str]:
    return [s for s in row.expected if s not in (row.confirmations or {})]


def record_confirmation(row: ErasureRequest, service: str, removed: dict | None) -> bool:
    """A service confirmed (the caller holds the row locked). The first confirmation keeps its time and what it
    removed; a repeat only counts. Returns True when this completed the request."""
    confirmations = dict(row.confirmations or {})
    now = timezone.now()
    known = confirmations.get(service)
    if known:
        known = {**known, "confirmations": int(known.get("confirmations", 1)) + 1, "last_confirmed_at": _iso(now),
                 "last_removed": {k: int(v) for k, v in (removed or {}).items()}}
    else:
        known = {"confirmed_at": _iso(now), "removed": {k: int(v) for k, v in (removed or {}).items()},
                 "confirmations": 1}
    confirmations[service] = known
    row.confirmations = confirmations
    fields = ["confirmations"]
    completed = False
    if row.completed_at is None and not missing(row):
        row.completed_at, completed = now, True
        fields.append("completed_at")
    row.save(update_fields=fields)
    return completed


def note_emitted(row: ErasureRequest) -> None:
    row.emitted += 1
    row.last_emitted_at = timezone.now()
    row.save(update_fields=["emitted", "last_emitted_at"])


def body(row: ErasureRequest, *, own: str | None = None, own_removed: dict | None = None) -> dict:
    """The deletion resource: the request, and per service its confirmation (the asking service `own` erased its
    part in the request's transaction)."""
    services = []
    if own:
        services.append({"service": own, "status": CONFIRMED, "confirmed_at": _iso(row.requested_at),
                         "removed": own_removed or {}, "confirmations": 1, "last_removed": None})
    for name in row.expected:
        found = (row.confirmations or {}).get(name)
        services.append({"service": name, "status": CONFIRMED if found else PENDING,
                         "confirmed_at": (found or {}).get("confirmed_at"), "removed": (found or {}).get("removed"),
                         "confirmations": (found or {}).get("confirmations", 0),
                         "last_removed": (found or {}).get("last_removed")})
    return {"id": str(row.pk), "scope": row.scope, "subject": str(row.subject_id), "status": row.status,
            "requested_at": _iso(row.requested_at), "requested_by": str(row.requested_by) if row.requested_by else None,
            "completed_at": _iso(row.completed_at) if row.completed_at else None, "emitted": row.emitted,
            "last_emitted_at": _iso(row.last_emitted_at), "services": services}


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ---- the erasing side ------------------------------------------------------------------------------------------

def confirm(event_type: str, *, scope: str, subject_id, tenant_id, removed: dict, request_event_id=None) -> str:
    """Publish `<service>.deletion.confirmed` in the erasing transaction (the confirmation commits with the
    erasure, or neither does)."""
    from .events import publish

    data = {"scope": scope, "subject_id": str(subject_id), "removed": {k: int(v) for k, v in removed.items()}}
    if request_event_id:
        data["request_event_id"] = str(request_event_id)
    return publish(event_type, data, tenant_id=str(tenant_id), subject=str(subject_id))


def _naming_events(tenant_id, ids: list[str]):
    """The tenant's outbox rows whose envelope names one of `ids`, the erasure's own events left out."""
    from .events.models import OutboxEvent

    naming = Q()
    for value in ids:
        naming |= Q(body__contains=value)
    return (OutboxEvent.objects.filter(naming, tenant_id=tenant_id)
            .exclude(type__endswith=".deleted").exclude(type__endswith=".deletion.confirmed"))


def forget_sent_events(tenant_id, ids: Iterable) -> int:
    """Sent events of the tenant whose envelope names one of `ids`: their payloads copy the subject's data (names,
    results), so they go with it. The erasure's own events (requests `*.deleted`, answers `*.deletion.confirmed`)
    hold ids only: they stay. Returns how many went."""
    ids = [str(i) for i in ids if i]
    if not ids:
        return 0
    deleted, _ = _naming_events(tenant_id, ids).filter(sent_at__isnull=False).delete()
    return deleted


def forget_events(tenant_id, ids: Iterable, *, dead_letters: bool | str = True) -> dict[str, int]:
    """Forget every event about the subject named by `ids` (see the module's text): sent and unsent outbox rows of
    the tenant naming one of them, and the service's own dead letters naming one of them (`dead_letters`: True for
    `<settings.SERVICE_NAME>.events.dlq`, a service name for another queue prefix, False for none). Inside the
    erasing transaction; the dead letters are dropped at once on the broker (a broker error fails the erasure, so
    the request is retried: dropping them again finds nothing). Returns the counts for the confirmation."""
    ids = [str(i) for i in ids if i]
    if not ids:
        return {"sent_events": 0, "unsent_events": 0, "dead_letters": 0}
    removed = {"sent_events": forget_sent_events(tenant_id, ids), "unsent_events": forget_unsent_events(tenant_id, ids)}
    if dead_letters:
        from django.conf import settings

        from .events import deadletters

        service = settings.SERVICE_NAME if dead_letters is True else str(dead_letters)
        removed["dead_letters"] = len(deadletters.forget(service, tenant_id=tenant_id, ids=ids))
    return removed


class Tombstone(models.Model):
    """The erasing side's record that a subject went (ids only, kept after its data): a late event about it — an
    analysis that finished while it was being deleted, a redelivery, an unsent event relayed afterwards — must not
    bring data back. A concrete model in the service (TenantOwned, its own table):

        class ErasedSubject(erasure.Tombstone, TenantOwned): ...
        erasure.bury(ErasedSubject, tenant_id, "athlete", athlete_id, tests=test_ids)   # in the erasing transaction
        erasure.is_buried(ErasedSubject, test_id=..., athlete_id=...)                 # in a handler, before writing
    """

    scope = models.CharField(max_length=10, choices=[(s, s) for s in SCOPES])
    subject_id = models.UUIDField()
    erased_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


def bury(model, tenant_id, scope: str, subject_id, *, tests: Iterable = ()) -> None:
    """Record the subject (and, for an athlete, its tests) as erased; a repeat adds nothing."""
    rows = [(scope, subject_id)] + [("test", t) for t in tests if t]
    known = {(s, str(i)) for s, i in model.objects.filter(subject_id__in=[i for _, i in rows])
             .values_list("scope", "subject_id")}
    model.objects.bulk_create([model(tenant_id=tenant_id, scope=s, subject_id=i) for s, i in dict.fromkeys(rows)
                               if (s, str(i)) not in known], ignore_conflicts=True)


def buried(model, *, tests: Iterable = (), athletes: Iterable = (), tenant=None) -> set[tuple[str, str]]:
    """Which of these tests, athletes (and the tenant itself) were erased here, as (scope, id) pairs: one query for
    many (a consumer's batch asks once for all its events; inside the tenant's transaction)."""
    wanted = [("test", str(t)) for t in tests if t] + [("athlete", str(a)) for a in athletes if a]
    if tenant:
        wanted.append(("tenant", str(tenant)))
    if not wanted:
        return set()
    naming = Q(pk__in=[])
    for scope in ("test", "athlete", "tenant"):
        ids = [i for s, i in wanted if s == scope]
        if ids:
            naming |= Q(scope=scope, subject_id__in=ids)
    return {(s, str(i)) for s, i in model.objects.filter(naming).values_list("scope", "subject_id")}


def is_buried(model, *, test_id=None, athlete_id=None) -> bool:
    """Whether the test or the athlete was erased here (inside the tenant's transaction)."""
    return bool(buried(model, tests=[test_id], athletes=[athlete_id]))


def forget_unsent_events(tenant_id, ids: Iterable) -> int:
    """Events of the tenant not sent yet whose envelope names one of `ids` (e.g. a report-ready of an erased test's
    report): they would carry the subject's data to other services after its erasure. The erasure's own events
    stay. Returns how many went."""
    ids = [str(i) for i in ids if i]
    if not ids:
        return 0
    deleted, _ = _naming_events(tenant_id, ids).filter(sent_at__isnull=True).delete()
    return deleted


def tenant_models() -> list:
    """Every concrete model of this service with a `tenant_id` column (tenant-owned tables, and the few cross-tenant
    ones that name a tenant: due times, keys, sessions), except the event tables (erase_tenant treats the outbox
    itself); the ones no other model points at first (one DELETE each, no cascade walking for the big tables)."""
    from django.apps import apps

    from .events.models import InboxEvent, OutboxEvent

    found = [m for m in apps.get_models() if not m._meta.abstract and not m._meta.proxy
             and m not in (InboxEvent, OutboxEvent) and any(f.name == "tenant_id" for f in m._meta.concrete_fields)]
    pointed_at = {f.related_model for m in found for f in m._meta.get_fields()
                  if getattr(f, "many_to_one", False) and f.concrete and f.related_model is not None}
    return sorted(found, key=lambda m: (m in pointed_at, m._meta.label))


def erase_tenant(tenant_id, *, keep: Iterable = (), dead_letters: bool | str = False) -> dict[str, int]:
    """Delete every row of the tenant in this service's tables that name it (inside the tenant's transaction, so
    row-level security admits exactly those), except the models in `keep`. Returns {model: rows} for the
    confirmation. The sent outbox rows of the tenant go too (unsent ones, the confirmation among them, stay);
    with `dead_letters` (as for forget_events) so do the tenant's dead letters, the erasure's own events aside;
    files are the service's to delete."""
    from .events.models import OutboxEvent
    from .tenancy import TenantOwned

    kept = set(keep)
    removed: dict[str, int] = {}
    for model in tenant_models():
        if model in kept:
            continue
        manager = model.all_tenants if issubclass(model, TenantOwned) else model._base_manager
        count, by_model = manager.filter(tenant_id=tenant_id).delete()
        for label, n in by_model.items():
            if n:
                table = label.rsplit(".", 1)[-1].lower()
                removed[table] = removed.get(table, 0) + n
    sent, _ = OutboxEvent.objects.filter(tenant_id=tenant_id, sent_at__isnull=False).delete()
    if sent:
        removed["sent_events"] = sent
    if dead_letters:
        from django.conf import settings

        from .events import deadletters

        service = settings.SERVICE_NAME if dead_letters is True else str(dead_letters)
        dropped = deadletters.forget(service, tenant_id=tenant_id, ids=[tenant_id])  # every envelope names it
        if dropped:
            removed["dead_letters"] = len(dropped)
    return removed
