#!/usr/bin/env python
"""How cost grows with stored data (issue 17 item 7): measurements on an empty database vs one holding 10 M samples
and 100 k tests across 1,000 tenants, in the same run. Run by hand (not in CI: the load takes minutes and ~3 GB).
Needs PostgreSQL on 127.0.0.1:5432 with trust auth for `postgres` (VO2_TEST_PG_ADMIN), like bench/import.py.

    .venv/bin/python bench/scale.py                      # builds vo2_bench_scale_loaded once, then reuses it
    .venv/bin/python bench/scale.py --rebuild            # load it again (a new migration is applied on reuse)
    .venv/bin/python bench/scale.py --tenants 20 --tests-per-tenant 10 --samples-per-test 50   # a quick try
    .venv/bin/python bench/scale.py --drop               # remove both bench databases and stop

Both databases are made by the service's own migrations (so the indexes, RLS policies and FORCE are the real ones),
then bulk-loaded with psycopg COPY as the superuser (COPY cannot write into an RLS table as the app role). Each
tenant gets the same shape: athletes, tests with breath-by-breath samples, one import and one stored result per
test. The probe tenant holds the same rows in both databases; the loaded one adds every other tenant's rows.

Measured for the probe tenant, as the application role (RLS on), in-process through Django's test client with real
tokens, after warm-up, rounds alternating empty/loaded (each round its own process per database):
  import          POST /api/v1/imports/ of a real 1,997-breath export (testdata/cpet/spiro/zan_gxt) with the
                  pipeline inline: file stored, analysis service (a real uvicorn process) parses and analyses,
                  test + samples + result stored, events in the outbox
  athlete list    GET /api/v1/athletes/?limit=20
  test samples    GET /api/v1/tests/{id}/samples (the imported test's 1,997 rows)
  analysis read   GET /api/v1/tests/{id}/analysis
Printed: median wall time and median SQL time (summed over the request's queries) per operation, the ratio
loaded/empty (target ≤ 1.3), and EXPLAIN (ANALYZE, BUFFERS) of each operation's statements on the loaded database.
The rows the bench's own imports add are removed after each round, so rounds see the same data.
"""
from __future__ import annotations

import argparse
import io
import json
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
OWNER, APP, PASSWORD = "vo2_bench_owner", "vo2_bench_app", "vo2-bench-password"
LOADED, EMPTY = "vo2_bench_scale_loaded", "vo2_bench_scale_empty"
PROBE = "00000000-0000-4000-8000-00000000b0b0"   # the tenant whose operations are timed, in both databases
PROBE_USER = "00000000-0000-4000-8000-0000000000aa"
EXPORT = REPO / "testdata" / "cpet" / "spiro" / "zan_gxt"
OPS = ("import", "athlete list", "test samples", "analysis read")
BENCH_FORMAT = "bench"                            # source_format of the loader's tests (the bench's imports differ)


def dsn(db: str, user: str = "postgres", password: str | None = None) -> str:
    import psycopg

    extra = {"password": password} if password else {}
    return psycopg.conninfo.make_conninfo(ADMIN_DSN, dbname=db, user=user, **extra)


# ---- building a database -------------------------------------------------------------------------------------------

def migrate(db: str, recreate: bool) -> None:
    """The database as the service's migrations make it (owner role runs them, like deploy/postgres/init.sh)."""
    from servicekit import pgroles

    pgroles.provision(ADMIN_DSN, db, OWNER, APP, PASSWORD, recreate=recreate)
    env = {**os.environ, **service_env(db), "DATABASE_URL": f"postgresql://{OWNER}:{PASSWORD}@127.0.0.1:5432/{db}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=SERVICE, env=env, check=True)


def shape_of(conn) -> dict | None:
    row = conn.execute("SELECT to_regclass('bench_scale_shape')").fetchone()
    if row[0] is None:
        return None
    return conn.execute("SELECT shape FROM bench_scale_shape").fetchone()[0]


def applied_migrations(conn) -> list[str]:
    return [f"{a}.{n}" for a, n in conn.execute("SELECT app, name FROM django_migrations ORDER BY app, name")]


def filler_columns(conn, table: str, given: tuple[str, ...]) -> list[tuple[str, str]]:
    """Columns of `table` that COPY must fill besides `given`: NOT NULL without a database default (Django keeps
    its defaults in Python), with a value by type. Reading the table keeps the loader true to later migrations."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
        "AND column_default IS NULL ORDER BY ordinal_position", [table]).fetchall()
    by_type = {"jsonb": "{}", "text": "", "character varying": "", "boolean": "f", "integer": "0", "bigint": "0",
               "smallint": "0", "double precision": "0", "timestamp with time zone": "2026-01-01 00:00:00+00",
               "date": "2026-01-01", "uuid": "00000000-0000-0000-0000-000000000000"}
    return [(name, by_type[kind]) for name, kind in rows if name not in given]


def copy_rows(conn, table: str, columns: tuple[str, ...], lines) -> int:
    """COPY text rows (tab-separated, already escaped) into `table`, missing NOT NULL columns filled by type."""
    extra = filler_columns(conn, table, columns)
    tail = "".join("\t" + (v if v != "" else "") for _, v in extra)
    names = ", ".join(columns + tuple(name for name, _ in extra))
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for line in lines:
            buffer.write(line)
            buffer.write(tail)
            buffer.write("\n")
            count += 1
            if buffer.tell() > 4 * 2 ** 20:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def load(db: str, tenants: list[str], athletes: int, tests: int, samples: int) -> None:
    """Every tenant: `athletes` athletes, `tests` tests (round-robin over them) with `samples` breaths each, one
    import and one stored result per test. Deterministic ids from the tenant's, so the probe's rows are alike."""
    import psycopg

    def ids(tenant: str, kind: str, n: int) -> list[str]:
        return [str(uuid.uuid5(uuid.UUID(tenant), f"{kind}{i}")) for i in range(n)]

    # one test's breaths as text once; per test only the ids in front change
    breath = [f"{i}\t{i * 3.0:.1f}\t{900 + i * 15:.0f}\t{800 + i * 16:.0f}\t{20 + i * 0.6:.1f}\t{90 + i * 0.5:.0f}"
              for i in range(samples)]
    result = json.dumps({"bench": True, "vo2max": {"value_ml_min": 3800}}).replace("\\", "\\\\")
    with psycopg.connect(dsn(db), autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")  # no triggers; RLS is not in the way of a superuser
        started = time.perf_counter()
        for n, tenant in enumerate(tenants):
            athlete_ids = ids(tenant, "athlete", athletes)
            test_ids = ids(tenant, "test", tests)
            copy_rows(conn, "athlete", ("tenant_id", "id", "first_name", "last_name", "sex", "created_by"),
                      (f"{tenant}\t{a}\tAthlete{i}\tName{(i * 7919) % 1000:03d}\t{'female' if i % 2 else 'male'}"
                       f"\t{PROBE_USER}" for i, a in enumerate(athlete_ids)))
            copy_rows(conn, "exercise_test", ("tenant_id", "id", "athlete_id", "date", "modality", "status",
                                              "source_format", "sample_count", "created_by"),
                      (f"{tenant}\t{t}\t{athlete_ids[i % athletes]}\t2025-{1 + i % 12:02d}-{1 + i % 28:02d}\tcycling"
                       f"\tanalyzed\t{BENCH_FORMAT}\t{samples}\t{PROBE_USER}" for i, t in enumerate(test_ids)))
            copy_rows(conn, "import_job", ("tenant_id", "id", "athlete_id", "test_id", "file_key", "filename",
                                           "size_bytes", "status", "created_by", "created_at"),
                      (f"{tenant}\t{imp}\t{athlete_ids[i % athletes]}\t{t}\t{tenant}/{imp}/bench.csv\tbench.csv"
                       f"\t250000\tdone\t{PROBE_USER}\t2025-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00+00"
                       for i, (t, imp) in enumerate(zip(test_ids, ids(tenant, "import", tests)))))
            copy_rows(conn, "analysis_result", ("tenant_id", "id", "test_id", "version", "result", "cache_key"),
                      (f"{tenant}\t{r}\t{t}\t1\t{result}\t{'0' * 64}"
                       for t, r in zip(test_ids, ids(tenant, "result", tests))))
            copy_rows(conn, "sample", ("tenant_id", "test_id", "idx", "time_s", "vo2_ml_min", "vco2_ml_min",
                                       "ve_l_min", "hr_bpm"),
                      (f"{tenant}\t{t}\t{line}" for t in test_ids for line in breath))
            conn.commit()
            if n % 50 == 49:
                done = n + 1
                print(f"  {db}: {done}/{len(tenants)} tenants, {time.perf_counter() - started:.0f} s", flush=True)
        conn.execute("ANALYZE")
        conn.commit()


def build(db: str, args, tenants: list[str], rebuild: bool) -> None:
    import psycopg

    shape = {"tenants": len(tenants), "athletes": args.athletes_per_tenant, "tests": args.tests_per_tenant,
             "samples": args.samples_per_test}
    migrate(db, recreate=rebuild)
    with psycopg.connect(dsn(db), autocommit=True) as conn:
        stored = shape_of(conn)
        if stored is not None and {k: stored.get(k) for k in shape} == shape:
            # a migration since the load was applied above, to the loaded rows, as an upgrade would
            print(f"{db}: reused ({shape}; loaded under {len(stored.get('migrations', []))} migrations, "
                  f"now {len(applied_migrations(conn))})")
            return
    if stored is not None:  # another shape: start again
        migrate(db, recreate=True)
    print(f"{db}: loading {shape} ...", flush=True)
    started = time.perf_counter()
    load(db, tenants, args.athletes_per_tenant, args.tests_per_tenant, args.samples_per_test)
    with psycopg.connect(dsn(db), autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_scale_shape (shape jsonb)")
        conn.execute("INSERT INTO bench_scale_shape VALUES (%s)",
                     [json.dumps({**shape, "migrations": applied_migrations(conn)})])
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    print(f"{db}: loaded in {time.perf_counter() - started:.0f} s, {size}", flush=True)


def clean_probe(db: str) -> None:
    """Remove what the bench's own imports added for the probe tenant (the loader's rows stay)."""
    import psycopg

    with psycopg.connect(dsn(db), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        mine = ("SELECT id FROM exercise_test WHERE tenant_id = %(t)s AND source_format <> %(f)s")
        for statement in (f"DELETE FROM sample WHERE tenant_id = %(t)s AND test_id IN ({mine})",
                          f"DELETE FROM analysis_result WHERE tenant_id = %(t)s AND test_id IN ({mine})",
                          f"DELETE FROM analysis_audit WHERE tenant_id = %(t)s AND test_id IN ({mine})",
                          "DELETE FROM import_job WHERE tenant_id = %(t)s AND filename <> 'bench.csv'",
                          f"DELETE FROM exercise_test WHERE tenant_id = %(t)s AND id IN ({mine})",
                          "DELETE FROM events_outbox WHERE tenant_id = %(t)s"):
            try:
                conn.execute(statement, {"t": PROBE, "f": BENCH_FORMAT})
            except psycopg.errors.UndefinedTable:
                pass


# ---- measuring (a child process per database and round) --------------------------------------------------------

def service_env(db: str) -> dict:
    return {"VO2_MODE": "saas", "DJANGO_SECRET_KEY": "bench-scale-secret-key-0123456789abcdef",
            "BROKER_URL": "filesystem://", "IMPORT_DISPATCH": "inline", "LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"postgresql://{APP}:{PASSWORD}@127.0.0.1:5432/{db}",
            "DJANGO_SETTINGS_MODULE": "measurements.settings", "REDIS_URL": ""}


def measure(db: str, repeats: int, explain: bool) -> dict:
    sys.path.insert(0, str(SERVICE))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from servicekit import service_tokens, testing
    from servicekit.tenancy import tenant_transaction

    keys = testing.SigningKeys(Path(tempfile.mkdtemp(prefix="vo2-bench-child-")))
    shared = json.loads(Path(os.environ["VO2_BENCH_KEYS"]).read_text())  # the parent's pair, in the JWKS it serves
    keys.kid, keys.private_pem = shared["kid"], shared["pem"].encode()
    service_tokens.set_provider(lambda tenant: keys.token(tid=tenant, roles=["service"]))
    settings.ANALYSIS_URL = os.environ["VO2_BENCH_ANALYSIS"]
    auth = {"HTTP_AUTHORIZATION": "Bearer " + keys.token(sub=PROBE_USER, tid=PROBE, roles=["owner"],
                                                         lifetime=3600)}
    client = Client(**auth)
    athlete = client.get("/api/v1/athletes/?limit=1").json()["results"][0]["id"]
    export = EXPORT.read_bytes()
    state = {}

    def do_import():
        upload = io.BytesIO(export)
        upload.name = "zan_gxt.txt"
        answer = client.post("/api/v1/imports/", {"athlete": athlete, "file": upload})
        assert answer.status_code in (200, 201, 202), answer.content[:500]
        body = client.get(f"/api/v1/imports/{answer.json()['id']}").json()
        assert body["status"] == "done", body
        state.setdefault("test", body["test"])

    def get(path):
        def run():
            answer = client.get(path.format(**state))
            assert answer.status_code == 200, answer.content[:500]
        return run

    ops = {"import": do_import, "athlete list": get("/api/v1/athletes/?limit=20"),
           "test samples": get("/api/v1/tests/{test}/samples"), "analysis read": get("/api/v1/tests/{test}/analysis")}
    sql_time = [0.0]

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_time[0] += time.perf_counter() - started

    out = {"wall": {op: [] for op in OPS}, "sql": {op: [] for op in OPS}, "plans": {}}
    for op in OPS:  # warm-up (and the import that the reads use)
        ops[op]()
        ops[op]()
    with connection.execute_wrapper(timed):
        for _ in range(repeats):
            for op in OPS:
                sql_time[0] = 0.0
                started = time.perf_counter()
                ops[op]()
                out["wall"][op].append(time.perf_counter() - started)
                out["sql"][op].append(sql_time[0])
    if explain:
        for op in OPS:
            with CaptureQueriesContext(connection) as captured:
                ops[op]()
            plans = []
            for query in captured.captured_queries:
                text = query["sql"]
                if not text.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
                    continue
                if "set_config" in text or "current_setting" in text.split("FROM")[0]:
                    continue
                with tenant_transaction(PROBE), connection.cursor() as cur:
                    try:
                        cur.execute("SAVEPOINT bench_explain")
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) " + text)
                        plan = "\n".join(row[0] for row in cur.fetchall())
                        cur.execute("ROLLBACK TO SAVEPOINT bench_explain")  # an explained write is undone
                    except Exception as exc:  # noqa: BLE001 - a statement that cannot be re-run alone
                        cur.execute("ROLLBACK TO SAVEPOINT bench_explain")
                        plan = f"(not explained: {type(exc).__name__})"
                plans.append({"sql": text[:600], "plan": plan})
            out["plans"][op] = plans
    return out


def child(db: str, repeats: int, explain: bool) -> dict:
    env = {**os.environ, **service_env(db)}
    run = subprocess.run([sys.executable, __file__, "--child", db, "--repeats", str(repeats)] +
                         (["--explain"] if explain else []), cwd=SERVICE, env=env, capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"measuring {db} failed:\n{run.stderr[-4000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--athletes-per-tenant", type=int, default=20)
    parser.add_argument("--tests-per-tenant", type=int, default=100)
    parser.add_argument("--samples-per-test", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10, help="per operation, per round and database")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--drop", action="store_true")
    parser.add_argument("--plans", default=str(REPO / "bench" / "scale_plans.txt"), help="where the plans go")
    parser.add_argument("--child")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "libs" / "servicekit"))
    if args.child:
        print(json.dumps(measure(args.child, args.repeats, args.explain)))
        return
    from servicekit import pgroles, testing

    if args.drop:
        for db in (LOADED, EMPTY):
            pgroles.drop(ADMIN_DSN, db)
        return
    others = [str(uuid.uuid5(uuid.NAMESPACE_OID, f"vo2-bench-tenant-{i}")) for i in range(args.tenants - 1)]
    build(EMPTY, args, [PROBE], rebuild=True)
    build(LOADED, args, [PROBE] + others, rebuild=args.rebuild)

    tmp = Path(tempfile.mkdtemp(prefix="vo2-bench-scale-"))
    keys = testing.SigningKeys(tmp / "keys")
    port = testing.free_port()
    (tmp / "pair.json").write_text(json.dumps({"kid": keys.kid, "pem": keys.private_pem.decode()}))
    os.environ.update({"VO2_BENCH_KEYS": str(tmp / "pair.json"), "VO2_BENCH_ANALYSIS": f"http://127.0.0.1:{port}",
                       "JWT_JWKS_URL": keys.jwks_url, "VO2_DATA_DIR": str(tmp / "data")})
    analysis = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "analysis.app:app", "--port", str(port), "--log-level", "warning"],
        cwd=REPO / "services" / "analysis", env={**os.environ, "VO2_MODE": "local", "DATABASE_URL": ""},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {EMPTY: {"wall": {op: [] for op in OPS}, "sql": {op: [] for op in OPS}},
               LOADED: {"wall": {op: [] for op in OPS}, "sql": {op: [] for op in OPS}}}
    per_round = {db: {"wall": {op: [] for op in OPS}, "sql": {op: [] for op in OPS}} for db in (EMPTY, LOADED)}
    plans = {}
    try:
        testing.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        for round_ in range(args.rounds):
            for db in ((EMPTY, LOADED) if round_ % 2 == 0 else (LOADED, EMPTY)):
                clean_probe(db)
                got = child(db, args.repeats, explain=round_ == args.rounds - 1)
                for kind in ("wall", "sql"):
                    for op in OPS:
                        results[db][kind][op] += got[kind][op]
                        per_round[db][kind][op].append(statistics.median(got[kind][op]))
                if got["plans"]:
                    plans[db] = got["plans"]
                clean_probe(db)
    finally:
        analysis.terminate()
        analysis.wait(timeout=10)

    print(f"\n{args.tenants} tenants × {args.tests_per_tenant} tests × {args.samples_per_test} samples "
          f"(loaded: {args.tenants * args.tests_per_tenant:,} tests, "
          f"{args.tenants * args.tests_per_tenant * args.samples_per_test:,} samples); "
          f"{args.rounds} rounds × {args.repeats} repeats, medians")
    print("ratio = median over rounds of (loaded round median / empty round median), the rounds being adjacent in "
          "time; the pooled medians beside it")
    print(f"| operation | empty ms | loaded ms | ratio (≤ 1.3) | SQL empty ms | SQL loaded ms | SQL ratio | "
          f"per-round ratios |")
    print("|---|---|---|---|---|---|---|---|")
    for op in OPS:
        e, l = (statistics.median(results[db]["wall"][op]) * 1000 for db in (EMPTY, LOADED))
        se, sl = (statistics.median(results[db]["sql"][op]) * 1000 for db in (EMPTY, LOADED))
        pairs = [b / a for a, b in zip(per_round[EMPTY]["wall"][op], per_round[LOADED]["wall"][op])]
        sql_pairs = [b / a for a, b in zip(per_round[EMPTY]["sql"][op], per_round[LOADED]["sql"][op])]
        print(f"| {op} | {e:.2f} | {l:.2f} | **{statistics.median(pairs):.2f}** | {se:.2f} | {sl:.2f} | "
              f"{statistics.median(sql_pairs):.2f} | {', '.join(f'{r:.2f}' for r in pairs)} |")
    with open(args.plans, "w") as out:
        for db in (LOADED, EMPTY):
            out.write(f"######## {db}\n")
            for op, items in plans.get(db, {}).items():
                out.write(f"\n==== {op}\n")
                for item in items:
                    out.write(f"\n-- {item['sql']}\n{item['plan']}\n")
    print(f"\nEXPLAIN (ANALYZE, BUFFERS) of every statement: {args.plans}")


if __name__ == "__main__":
    main()
