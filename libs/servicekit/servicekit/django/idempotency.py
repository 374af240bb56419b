"""Idempotency-Key for POSTs that create something (ARCHITECTURE.md conventions).

A client that retries a create after a timeout must not get a second athlete or test. The key is remembered on the
created row itself (`idempotency_key`, `request_fingerprint`, `created_by` fields), scoped to the caller, with the
statuses of the IETF httpapi Idempotency-Key draft: the same caller repeating the same key with the same body gets
the first object back (201/202, `Idempotent-Replayed: true`); the same key with a different body is a 422
`idempotency-key-reused`; a retry while the first request with that key is still being processed is a 409
`idempotency-key-in-flight` (retry later). Another caller's keys are not theirs to collide with.

"In flight" is a PostgreSQL transaction-level advisory lock on (model, tenant, scope, key), held until the first
request's transaction ends, so every process sees it. On SQLite (local mode) writers run one at a time (BEGIN
IMMEDIATE): a retry waits for the first request's commit and answers with its object. A unique constraint on
(tenant, creator, key) still decides any race the claim does not see.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from django.db import IntegrityError, connections, models, transaction

from ..principal import Principal
from ..problems import ProblemError
from ..tenancy import database_alias_for

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII, as in the IETF Idempotency-Key draft's examples

T = TypeVar("T")


class CreatedOnce(models.Model):
    """The columns `create_once` needs on a created row (besides `created_by`). Each model adds the unique
    constraint on (tenant_id, created_by, idempotency_key) under its own name."""

    idempotency_key = models.CharField(max_length=200, null=True, blank=True, editable=False)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="", db_default="", editable=False)

    class Meta:
        abstract = True


class IdempotencyKeyReused(ProblemError):
    def __init__(self):
        super().__init__(422, "idempotency-key-reused",
                         "This Idempotency-Key was used for a different request; use a new key for a new request.")


class IdempotencyKeyInFlight(ProblemError):
    def __init__(self):
        super().__init__(409, "idempotency-key-in-flight",
                         "The first request with this Idempotency-Key is still being processed; retry later.")


# ---- the in-flight claim ---------------------------------------------------------------------------------------

def _claim_id(model, scope: Mapping, key: str, tenant_id) -> int:
    """A signed 64-bit number for (model, tenant, scope, key): PostgreSQL's advisory lock key."""
    text = json.dumps([model._meta.label, str(tenant_id or ""), sorted((k, str(v)) for k, v in scope.items()), key])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def _claim(claim: int, alias: str) -> None:
    """Claim the key until this transaction ends, or 409 `idempotency-key-in-flight` when another transaction holds
    it (the same transaction may claim again). SQLite needs no claim: its writers run one at a time (BEGIN
    IMMEDIATE), so a retry waits for the first request's commit and then finds its object (a replay)."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [claim])
        if not cursor.fetchone()[0]:
            raise IdempotencyKeyInFlight()


def key_from(request) -> str | None:
    """The request's Idempotency-Key, or None; a malformed key is a 400 problem naming the header."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _VALID_KEY.match(key):
        raise ProblemError(400, "validation-error", f"{HEADER}: 1 to 200 visible ASCII characters",
                           errors=[{"field": HEADER, "detail": "1 to 200 visible ASCII characters"}])
    return key


def _plain(value) -> str:
    pk = getattr(value, "pk", None)  # a related object stands for its id, not its __str__
    return str(pk if pk is not None else value)


def fingerprint(fields: Mapping) -> str:
    """A stable digest of the validated request (related objects as ids; dates, decimals and UUIDs as strings)."""
    canonical = json.dumps(fields, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _scope(by: Principal | None, scope: Mapping | None) -> dict:
    if scope is not None:
        return dict(scope)
    if by is None:
        raise ValueError("create_once needs the caller (by=) or the scope its keys live in (scope=)")
    return {"created_by": by.user_id}


def earlier(model, *, key: str, by: Principal | None = None, fields: Mapping | None = None,
            scope: Mapping | None = None, queryset=None):
    """The object created earlier with this key in this scope (default: by this caller), or None. With `fields`,
    a different request under the same key is the 422 `idempotency-key-reused`; without, the first object is
    answered unseen (a create whose body is a large upload is answered before the body is read)."""
    rows = queryset if queryset is not None else model.objects
    found = rows.filter(idempotency_key=key, **_scope(by, scope)).first()
    if found is not None and fields is not None and found.request_fingerprint != fingerprint(fields):
        raise IdempotencyKeyReused()
    return found


def create_once(model, *, by: Principal | None, key: str | None, fields: Mapping,
                create: Callable[[dict], T], scope: Mapping | None = None, queryset=None,
                tenant_id=None) -> tuple[T, bool]:
    """The one idempotent create of every creating POST (201 or 202 alike).

    `create(extra)` → (object, True), where `extra` holds the key columns to store (`idempotency_key`,
    `request_fingerprint`: the model has them through `CreatedOnce`); or, when an object of `model` was created
    with `key` in the key's scope, (that object, False); a different request under that key is the 422
    `idempotency-key-reused`, and a retry while the first request with the key is still in its transaction the 409
    `idempotency-key-in-flight`. The scope is the caller by default (`created_by=by.user_id`); pass `scope=` for
    another owner column (e.g. `{"invited_by": ...}`) or a shared scope (`{"auto": True}`). `model.objects` (or
    `queryset`) is the tenant-scoped manager. A unique constraint on (tenant_id, <scope columns>, idempotency_key)
    decides a race the claim does not see."""
    if not key:
        return create({}), True
    digest = fingerprint(fields)
    tenant = str(tenant_id or (by.tenant_id if by else "")) or None
    alias = database_alias_for(tenant)

    def find():
        return earlier(model, key=key, by=by, fields=fields, scope=scope, queryset=queryset)

    with transaction.atomic(using=alias):  # the claim lives at least as long as the create (a savepoint in a request)
        _claim(_claim_id(model, _scope(by, scope), key, tenant), alias)
        found = find()
        if found is not None:
            return found, False
        try:
            with transaction.atomic(using=alias):
                return create({"idempotency_key": key, "request_fingerprint": digest}), True
        except IntegrityError:  # a concurrent retry with the same key committed first, unseen by the claim
            found = find()
            if found is None:
                raise
            return found, False


def replay_headers(location: str, created: bool) -> dict:
    """Location, and `Idempotent-Replayed: true` when the answer is the first request's object."""
    headers = {"Location": location}
    if not created:
        headers[REPLAYED_HEADER] = "true"
    return headers


def created_response(data, location: str, created: bool, status: int = 201):
    """201 (or 202 for a create that starts a job) with Location; a replay says so (`Idempotent-Replayed: true`)
    and carries the first answer's object."""
    from rest_framework.response import Response

    return Response(data, status=status, headers=replay_headers(location, created))


def openapi_parameter():
    """The header as drf-spectacular documents it (`@extend_schema(parameters=[openapi_parameter()])`)."""
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        HEADER, {"type": "string", "minLength": 1, "maxLength": 200, "pattern": _VALID_KEY.pattern},
        OpenApiParameter.HEADER, required=False,
        description="1–200 visible ASCII characters. Repeating a create with the same key and body returns the "
                    "first answer (`Idempotent-Replayed: true`); a different body with the same key is 422 "
                    "`idempotency-key-reused`; a retry while the first request is still processed is 409 "
                    "`idempotency-key-in-flight`. Keys are per caller.")
