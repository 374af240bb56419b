"""Writes to exercise tests, their samples and lactate steps. Nothing else writes these tables."""
from __future__ import annotations

import hashlib
import math
from itertools import repeat
from typing import Iterable

import orjson
from django.db import connection, transaction

from servicekit.django import idempotency
from servicekit.principal import Principal

from .. import events
from ..infra.storage import get_storage
from .models import SAMPLE_COLUMNS, ExerciseTest, LactateStep, Sample

EDITABLE = ("athlete", "date", "modality", "protocol", "protocol_start", "protocol_increment",
            "protocol_stage_length_s", "device", "temperature_c", "humidity_pct", "pressure_hpa", "notes")
CREATE_ONLY = ("status", "source_format", "source_metadata", "idempotency_key", "request_fingerprint")


def create_test(by: Principal | None, tenant_id: str | None = None, **fields) -> ExerciseTest:
    return ExerciseTest.objects.create(
        tenant_id=tenant_id or by.tenant_id, created_by=by.user_id if by else None,
        **{k: v for k, v in fields.items() if k in EDITABLE or k in CREATE_ONLY})


def create_test_once(by: Principal, idempotency_key: str | None, **fields) -> tuple[ExerciseTest, bool]:
    """A test created through the API: new (created=True), or the one this caller already created with the same
    Idempotency-Key (created=False)."""
    fields = {k: v for k, v in fields.items() if k in EDITABLE}
    return idempotency.create_once(ExerciseTest, by=by, key=idempotency_key, fields=fields,
                                   create=lambda extra: create_test(by, **fields, **extra))


def update_test(test: ExerciseTest, **changes) -> ExerciseTest:
    for name, value in changes.items():
        if name in EDITABLE:
            setattr(test, name, value)
    test.save()
    return test


def set_status(test: ExerciseTest, status: str) -> None:
    ExerciseTest.objects.filter(pk=test.pk).update(status=status)
    test.status = status


def delete_test(test: ExerciseTest, *, by: str | None = None, reason: str = "user") -> None:
    """GDPR: samples, lactate steps, results, imports and the uploaded files go with the test."""
    from ..imports.models import Import  # noqa: PLC0415

    folders = [str(pk) for pk in Import.objects.filter(test=test).values_list("id", flat=True)]
    tenant_id, test_id, athlete_id = str(test.tenant_id), str(test.pk), str(test.athlete_id)
    Sample.objects.filter(test=test).delete()  # one DELETE, before the collector walks the rest
    test.delete()
    events.emit(events.TEST_DELETED, {"test_id": test_id, "athlete_id": athlete_id, "reason": reason,
                                      "deleted_by": str(by) if by else None},
                tenant_id=tenant_id, subject=test_id)
    remove_upload_folders(tenant_id, folders)


def remove_upload_folders(tenant_id: str, folders: Iterable[str]) -> None:
    """Files are removed once the deletion is committed (a rolled-back delete keeps them)."""
    folders = list(folders)
    if folders:
        storage = get_storage()
        transaction.on_commit(lambda: [storage.delete_folder(tenant_id, f) for f in folders])


# ---- samples ---------------------------------------------------------------------------------------------------

def samples_digest(columns: dict[str, list | None]) -> str:
    canonical = {c: columns.get(c) for c in SAMPLE_COLUMNS}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SERIALIZE_NUMPY)).hexdigest()


def rows_from_columns(columns: dict[str, list | None]) -> list[tuple]:
    """Column-wise samples → rows (idx, time_s, ...); rows without a time are dropped."""
    time = columns.get("time_s") or []
    n = len(time)
    cols = [columns.get(c) or [None] * n for c in SAMPLE_COLUMNS]
    rows = []
    for i, values in enumerate(zip(*cols)):
        if values[0] is None:
            continue
        rows.append((len(rows), *values))
    return rows


def store_samples(test: ExerciseTest, columns: dict[str, list | None]) -> int:
    """Replace the test's samples in bulk (COPY on PostgreSQL, bulk_create on SQLite). Call inside a transaction."""
    columns = _with_time(columns)
    n = len(columns.get("time_s") or [])
    Sample.objects.filter(test=test).delete()
    if connection.vendor == "postgresql":
        copy_columns(str(test.tenant_id), str(test.pk), columns)
    else:
        fields = ("idx",) + SAMPLE_COLUMNS
        Sample.objects.bulk_create(
            (Sample(tenant_id=test.tenant_id, test_id=test.pk, **dict(zip(fields, row)))
             for row in rows_from_columns(columns)),
            batch_size=900 // (len(fields) + 2))
    test.sample_count = n
    test.data_digest = samples_digest(columns)
    test.save(update_fields=["sample_count", "data_digest", "updated_at"])
    return n


def _with_time(columns: dict[str, list | None]) -> dict[str, list | None]:
    """Rows without a time cannot be placed on the time axis: drop them (rare; the readers already do)."""
    time = columns.get("time_s") or []
    if all(t is not None for t in time):
        return columns
    keep = [i for i, t in enumerate(time) if t is not None]
    return {c: (None if v is None else [v[i] for i in keep]) for c, v in columns.items()}


_STAGE_COLUMNS = ("idx",) + SAMPLE_COLUMNS


def copy_columns(tenant_id: str, test_id: str, columns: dict[str, list | None]) -> None:
    """COPY into a session staging table, then one INSERT … SELECT into `sample`.

    PostgreSQL refuses COPY FROM into a table under row-level security ("COPY FROM not supported with row-level
    security"), and the application role is under FORCE RLS by design; the staging table is private to this
    session (temporary, no WAL, no indexes), and the INSERT … SELECT is checked by the tenant policy like any insert.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("samples are stored inside the transaction that creates or changes their test")
    connection.ensure_connection()
    pg = connection.connection  # the psycopg connection, in Django's transaction
    n = len(columns.get("time_s") or [])
    cols = [columns.get(c) or repeat(None, n) for c in SAMPLE_COLUMNS]
    with pg.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS sample_stage (idx integer, "
                    + ", ".join(f"{c} double precision" for c in SAMPLE_COLUMNS) + ") ON COMMIT DELETE ROWS")
        cur.execute("TRUNCATE sample_stage")
        with cur.copy(f"COPY sample_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4"] + ["float8"] * len(SAMPLE_COLUMNS))
            write = copy.write_row
            for row in zip(range(n), *cols):
                write(row)
        names = ", ".join(_STAGE_COLUMNS)
        # NaN/±inf are not measurements: stored as NULL (v - v is NaN for them, 0 otherwise)
        values = ", ".join(["idx", "time_s"] + [f"CASE WHEN {c} - {c} = 0 THEN {c} END" for c in SAMPLE_COLUMNS[1:]])
        cur.execute(f"INSERT INTO sample (tenant_id, test_id, {names}) SELECT %s::uuid, %s::uuid, {values} "
                    "FROM sample_stage", [tenant_id, test_id])


# ---- lactate steps ---------------------------------------------------------------------------------------------

LACTATE_FIELDS = ("intensity", "lactate", "heart_rate", "rpe", "length_s")


def replace_lactate_steps(test: ExerciseTest, steps: list[dict]) -> list[LactateStep]:
    LactateStep.objects.filter(test=test).delete()
    return LactateStep.objects.bulk_create([
        LactateStep(tenant_id=test.tenant_id, test=test, stage=i,
                    **{k: step.get(k) for k in LACTATE_FIELDS})
        for i, step in enumerate(steps)])
