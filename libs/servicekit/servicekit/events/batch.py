"""Per-batch state for a consumer that handles events in batches (opt-in: settings EVENTS_BATCH_SIZE > 1).

A batch is the events of one tenant the broker handed over together: their inbox rows, every handler and the
writes they deferred go in one transaction (servicekit.events.consumer). Handlers may use this module whether or
not a batch is open; outside one (a single event, a task, a request) every call does the plain thing at once:

    known = batch.cache("members")          # a dict that lives for the batch ({} afresh outside one)
    batch.create(Notification(...))         # INSERTed with the batch's other rows of that model (bulk_create), at
                                            # the end of the batch, before its commit; saved now outside a batch
    batch.update(row, ["status", "stage"])  # one bulk_update per model at the end (one UPDATE for a single row; a row
                                            # created in the batch is simply written with its latest values)

Rows are written model by model in the order each model was first deferred, so a referencing model deferred after
the one it references is written after it. Code that must read back what it deferred calls `batch.flush()`;
code that deletes rows others may have cached (an erasure) calls `batch.flush(forget=True)` first.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

_local = threading.local()


class Scope:
    def __init__(self):
        self.caches: dict[str, dict] = {}
        self.created: dict[type, list] = {}          # model -> rows to INSERT (ordered by first use)
        self.updated: dict[type, dict[int, tuple]] = {}  # model -> id(row) -> (row, fields)
        self.pending: set[int] = set()                   # id() of the rows in `created`

    def flush(self) -> None:
        created, self.created, self.pending = self.created, {}, set()
        for model, rows in created.items():
            model.objects.bulk_create(rows)
        updated, self.updated = self.updated, {}
        for model, rows in updated.items():
            if len(rows) == 1:  # one plain UPDATE: bulk_update's CASE WHEN per field costs ~6x as much to build
                ((row, names),) = rows.values()
                model.objects.filter(pk=row.pk).update(**{name: getattr(row, name) for name in names})
                continue
            fields = sorted({f for _, names in rows.values() for f in names})
            model.objects.bulk_update([row for row, _ in rows.values()], fields)


def current() -> Scope | None:
    return getattr(_local, "scope", None)


@contextmanager
def scope():
    """A batch for the current thread (the consumer opens it inside the batch's transaction)."""
    previous, _local.scope = current(), Scope()
    try:
        yield _local.scope
    finally:
        _local.scope = previous


def cache(name: str) -> dict:
    found = current()
    return found.caches.setdefault(name, {}) if found is not None else {}


def create(row):
    found = current()
    if found is None:
        row.save(force_insert=True)
    else:
        found.created.setdefault(type(row), []).append(row)
        found.pending.add(id(row))
    return row


def update(row, fields: list[str]):
    found = current()
    if found is None:
        row.save(update_fields=fields)
        return row
    if id(row) in found.pending:
        return row  # its INSERT carries the latest values
    rows = found.updated.setdefault(type(row), {})
    _, before = rows.get(id(row), (row, ()))
    rows[id(row)] = (row, tuple(dict.fromkeys((*before, *fields))))
    return row


def flush(*, forget: bool = False) -> None:
    """Write what is deferred now; `forget`: empty the caches too (they may name rows about to go)."""
    found = current()
    if found is not None:
        found.flush()
        if forget:
            found.caches.clear()
