#!/usr/bin/env python
"""measurements import benchmark (plain script; needs PostgreSQL on 127.0.0.1:5432 with trust auth for `postgres`).

1. Samples/s stored by the import path's storage function (`samples.actions.store_samples`: COPY into a
   session staging table + one INSERT … SELECT into the RLS-protected `sample` table, as the application role)
   vs a raw psycopg binary COPY of the same rows into an identical table without RLS, in the same run.
   Target: ≥ 50 % of raw.
2. Time from upload to analyzed for a ~2,000-breath file (testdata/cpet/spiro/zan_gxt, 1,997 breaths): POST
   /api/v1/imports/ → the pipeline (analysis `parse` over HTTP, COPY, analysis `cpet`, result stored) → status done,
   against a real analysis service (uvicorn subprocess). Target: ≤ 3 s.

    .venv/bin/python bench/import.py [--rows 100000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVICE = REPO / "services" / "measurements"
ADMIN_DSN = os.environ.get("VO2_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per storage batch")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vo2-bench-import-"))
    sys.path.insert(0, str(SERVICE))
    from servicekit import pgroles, testing

    keys = testing.SigningKeys(tmp / "keys")
    db = f"vo2_bench_measurements_{uuid.uuid4().hex[:6]}"
    owner, app, password = "vo2_bench_owner", "vo2_bench_app", "vo2-bench-password"
    pgroles.provision(ADMIN_DSN, db, owner, app, password, recreate=True)
    os.environ.update({
        "VO2_MODE": "saas", "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex, "JWT_JWKS_URL": keys.jwks_url,
        "VO2_DATA_DIR": str(tmp / "data"), "BROKER_URL": "filesystem://", "IMPORT_DISPATCH": "inline",
        "DATABASE_URL": f"postgresql://{app}:{password}@127.0.0.1:5432/{db}", "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "measurements.settings",
    })
    os.environ.pop("REDIS_URL", None)
    analysis = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        connection.settings_dict["USER"] = owner
        call_command("migrate", verbosity=0, interactive=False)
        with connection.cursor() as cur:  # the raw baseline: the same table without row-level security
            cur.execute("CREATE TABLE sample_raw (LIKE sample INCLUDING ALL)")
        connection.close()
        connection.settings_dict["USER"] = app

        port = testing.free_port()
        analysis = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "analysis.app:app", "--port", str(port), "--log-level", "warning"],
            cwd=REPO / "services" / "analysis", env={**os.environ, "VO2_MODE": "local", "DATABASE_URL": ""},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        testing.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        from django.conf import settings

        settings.ANALYSIS_URL = f"http://127.0.0.1:{port}"
        from servicekit import service_tokens

        service_tokens.set_provider(lambda tenant: keys.token(tid=tenant, roles=["service"]))

        storage(args.rows, args.repeats, app, password, db)
        end_to_end(keys, args.repeats)
    finally:
        if analysis:
            analysis.terminate()
            analysis.wait(timeout=10)
        from django.db import connections

        for c in connections.all():
            c.close()
        pgroles.drop(ADMIN_DSN, db)


def sample_columns(n: int) -> dict:
    """n breaths: the zan_gxt test's breaths (read by the analysis service) repeated with shifted time."""
    from measurements.results import analysis

    parsed = analysis.parse(str(uuid.uuid4()), "zan_gxt", (REPO / "testdata/cpet/spiro/zan_gxt").read_bytes())
    base = parsed["samples"]
    m = len(base["time_s"])
    span = base["time_s"][-1] - base["time_s"][0] + 1
    cols = {}
    for name, values in base.items():
        if values is None:
            cols[name] = None
        elif name == "time_s":
            cols[name] = [values[i % m] + span * (i // m) for i in range(n)]
        else:
            cols[name] = [values[i % m] for i in range(n)]
    return cols


def storage(n: int, repeats: int, app: str, password: str, db: str) -> None:
    import psycopg

    from measurements.athletes.models import Athlete
    from measurements.samples import actions
    from measurements.exercise_tests.models import SAMPLE_COLUMNS, ExerciseTest
    from servicekit.tenancy import tenant_transaction

    tenant = str(uuid.uuid4())
    columns = sample_columns(n)
    rows = actions.rows_from_columns(columns)
    with tenant_transaction(tenant):
        athlete = Athlete.objects.create(tenant_id=tenant, first_name="B", last_name="B", sex="male")
    ours, raw = [], []
    names = ("tenant_id", "test_id", "idx") + SAMPLE_COLUMNS  # the same columns and key as `sample`
    with psycopg.connect(f"postgresql://{app}:{password}@127.0.0.1:5432/{db}") as pg:
        for _ in range(repeats):
            with tenant_transaction(tenant):
                test = ExerciseTest.objects.create(tenant_id=tenant, athlete=athlete, date="2026-01-01")
            started = time.perf_counter()
            with tenant_transaction(tenant):
                stored = actions.store_samples(test, columns)
            ours.append(time.perf_counter() - started)
            assert stored == n

            test_id = uuid.uuid4()
            started = time.perf_counter()
            with pg.transaction(), pg.cursor() as cur:
                with cur.copy(f"COPY sample_raw ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["uuid", "uuid", "int4"] + ["float8"] * len(SAMPLE_COLUMNS))
                    tid = uuid.UUID(tenant)
                    for row in rows:
                        copy.write_row((tid, test_id, *row))
            raw.append(time.perf_counter() - started)
    best_ours, best_raw = min(ours), min(raw)
    print(f"storage, {n:,} rows per batch, best of {repeats}:")
    print(f"  store_samples (staging COPY + INSERT…SELECT under RLS): {n / best_ours:12,.0f} samples/s "
          f"({best_ours * 1000:.0f} ms; median {statistics.median(ours) * 1000:.0f} ms)")
    print(f"  raw psycopg binary COPY (no RLS, same rows):          {n / best_raw:12,.0f} samples/s "
          f"({best_raw * 1000:.0f} ms; median {statistics.median(raw) * 1000:.0f} ms)")
    ratio = best_raw / best_ours
    print(f"  ratio ours/raw: {ratio:.0%}  (target ≥ 50 %: {'met' if ratio >= 0.5 else 'NOT met'})")


def end_to_end(keys, repeats: int) -> None:
    from rest_framework.test import APIClient

    tenant = str(uuid.uuid4())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + keys.token(tid=tenant, roles=["owner"], lifetime=3600))
    athlete = client.post("/api/v1/athletes/", {"first_name": "B", "last_name": "B", "sex": "male",
                                                "body_mass_kg": 70}, format="json").json()
    data = (REPO / "testdata/cpet/spiro/zan_gxt").read_bytes()
    times, breaths = [], None
    for i in range(repeats + 1):
        from django.core.files.uploadedfile import SimpleUploadedFile

        started = time.perf_counter()
        accepted = client.post("/api/v1/imports/", {"athlete": athlete["id"],
                                                    "file": SimpleUploadedFile("zan_gxt", data)}, format="multipart")
        imp = accepted.json()
        while imp["status"] not in ("done", "failed"):
            time.sleep(0.01)
            imp = client.get(f"/api/v1/imports/{imp['id']}").json()
        elapsed = time.perf_counter() - started
        assert imp["status"] == "done", imp
        breaths = client.get(f"/api/v1/tests/{imp['test']}/").json()["sample_count"]
        (times.append(elapsed) if i else None)
        if i == 0:
            first = elapsed
    print(f"upload → analyzed, {breaths:,}-breath ZAN export (parse + COPY + cpet over HTTP), {repeats} runs "
          f"after one warm-up ({first:.2f} s):")
    print(f"  median {statistics.median(times):.2f} s, best {min(times):.2f} s, worst {max(times):.2f} s  "
          f"(target ≤ 3 s: {'met' if max(times) <= 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
