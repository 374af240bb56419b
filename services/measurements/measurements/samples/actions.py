"""Writes of samples: a test's breath-by-breath table replaced in bulk (COPY on PostgreSQL, bulk_create on SQLite).
The import flow calls `store_samples` inside the transaction that creates or changes the test; nothing else
writes the `sample` table (the test's deletion removes its rows)."""
from __future__ import annotations

import hashlib
from itertools import repeat

import orjson
from django.db import connection

from ..exercise_tests import actions as test_actions
from ..exercise_tests.models import SAMPLE_COLUMNS, ExerciseTest, Sample


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
    test_actions.record_samples(test, n, samples_digest(columns))
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
