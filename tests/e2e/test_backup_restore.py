"""Issue 18 item 5: a running SaaS system is backed up with tools/backup.py (pg_dump of every service database, the
roles, every object of its bucket), restored into fresh databases under new names, and every athlete, test, sample,
result, import and report made through the gateway is found again, row for row, in the restored databases; the
report and upload files match the hashes their rows recorded, in the backup and where the restore put them; the
restored databases still keep tenants apart (RLS) for the services' application roles."""
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from servicekit.pgroles import drop
from servicekit.testing import POSTGRES_ADMIN_DSN

from .test_tests_and_reports import FORMATS, upload, wait_for_import

ROOT = Path(__file__).resolve().parents[2]
# (database's service, table, column naming whose row it is: an athlete's id or a test's id)
BY_ATHLETE = [("measurements", "athlete", "id"), ("measurements", "exercise_test", "athlete_id"),
              ("measurements", "import_job", "athlete_id")]
BY_TEST = [("measurements", "sample", "test_id"), ("measurements", "analysis_result", "test_id")]


def rows(database: str, table: str, column: str, ids: list[str]) -> list:
    """Every row of the table for these ids, whole, as the superuser reads it (RLS does not bind it)."""
    dsn = psycopg.conninfo.make_conninfo(POSTGRES_ADMIN_DSN, dbname=database)
    query = sql.SQL("SELECT to_jsonb(t)::text FROM {} t WHERE {}::text = ANY(%s) ORDER BY 1").format(
        sql.Identifier(table), sql.Identifier(column))
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute(query, [ids])]


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.saas  # the per-service PostgreSQL databases and the bucket are SaaS mode's
def test_a_backup_restored_into_new_databases_has_every_athlete_test_result_and_report(system, owner, tmp_path):
    tenant = owner.get("/api/v1/auth/me").json()["tenant"]["id"]
    athletes, tests, reports, imports = [], [], [], []
    # two athletes, each with an imported and analysed test; a report of the one whose analysis a report can use
    # (the Vyntus export's stored result is too short for one: 422 test-not-analysable)
    for first, cart, reported in (("Backup", "zan", True), ("Restore", "vyntus", False)):
        athlete = owner.post("/api/v1/athletes/", {"first_name": first, "last_name": "Kept", "sex": "female",
                                                   "birth_date": "1991-03-04", "body_mass_kg": 61.0}).json()
        accepted = upload(owner, athlete, FORMATS[cart])
        assert accepted.status_code == 202, accepted.text
        state = wait_for_import(owner, accepted.json()["id"], timeout=150)  # a loaded machine
        assert state["status"] == "done", state
        athletes.append(athlete["id"]), tests.append(state["test"]), imports.append(state["id"])
        if reported:
            requested = owner.post("/api/v1/reports/", {"test": state["test"], "language": "en",
                                                        "template": "athlete"})
            assert requested.status_code == 202, requested.text
            reports.append(requested.json()["id"])
    for report_id in reports:
        deadline = time.monotonic() + 90
        while (report := owner.get(f"/api/v1/reports/{report_id}").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, report
            time.sleep(0.3)
        assert report["status"] == "done", report

    prefix, bucket = system.saas.database_prefix, system.extra_env["S3_BUCKET"]
    backup_dir, files_to, new_prefix = tmp_path / "backup", tmp_path / "restored-files", f"vo2rst_{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **system.s3.env, "POSTGRES_ADMIN_DSN": POSTGRES_ADMIN_DSN}
    tool = [sys.executable, str(ROOT / "tools" / "backup.py")]
    subprocess.run([*tool, "backup", "--out", str(backup_dir), "--prefix", prefix, "--s3-bucket", bucket],
                   env=env, check=True, capture_output=True, text=True)
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert set(manifest["databases"]) == {"identity", "measurements", "reports", "notifications"}
    try:
        done = subprocess.run([*tool, "restore", "--from", str(backup_dir), "--prefix", new_prefix,
                               "--files-to", str(files_to)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        old, new = (lambda s: f"{prefix}_{s}"), (lambda s: f"{new_prefix}_{s}")

        # every athlete, test, sample, import and result: the same rows, whole
        for service, table, column in BY_ATHLETE + BY_TEST:
            ids = athletes if (service, table, column) in BY_ATHLETE else tests
            before = rows(old(service), table, column, ids)
            assert before, (table, "nothing made")
            assert rows(new(service), table, column, ids) == before, table
        assert len(rows(new("measurements"), "exercise_test", "id", tests)) == len(tests)
        assert len(rows(new("measurements"), "analysis_result", "test_id", tests)) == len(tests)
        # every report, and its file: in the backup and in the restored folder, with the hash its row recorded
        restored_reports = [json.loads(r) for r in rows(new("reports"), "report", "id", reports)]
        assert rows(new("reports"), "report", "id", reports) == rows(old("reports"), "report", "id", reports)
        assert {r["id"] for r in restored_reports} == set(reports)
        for report in restored_reports:
            assert report["status"] == "done" and report["sha256"], report
            assert sha256(backup_dir / "files" / "reports" / "reports" / report["file_path"]) == report["sha256"]
            assert sha256(files_to / "reports" / report["file_path"]) == report["sha256"]
        for job in (json.loads(r) for r in rows(new("measurements"), "import_job", "id", imports)):
            assert sha256(backup_dir / "files" / "measurements" / "uploads" / job["file_key"]) == job["sha256"]
            assert sha256(files_to / "uploads" / job["file_key"]) == job["sha256"]
        # the lab and its owner in identity
        assert rows(new("identity"), "tenant", "id", [tenant]) == rows(old("identity"), "tenant", "id", [tenant])

        # RLS kept: the measurements application role sees nothing without a tenant, only its tenant's rows with it
        app = psycopg.conninfo.make_conninfo(POSTGRES_ADMIN_DSN, dbname=new("measurements"),
                                             user=f"{prefix}_measurements_app", password=system.saas.password)
        with psycopg.connect(app) as conn:
            assert conn.execute("SELECT count(*) FROM athlete").fetchone()[0] == 0
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", [tenant])
            seen = {str(r[0]) for r in conn.execute("SELECT id FROM athlete WHERE id::text = ANY(%s)", [athletes])}
            assert seen == set(athletes)
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", [str(uuid.uuid4())])
            assert conn.execute("SELECT count(*) FROM athlete").fetchone()[0] == 0

        # a second restore under a taken name is refused: a backup never lands on a live database
        again = subprocess.run([*tool, "restore", "--from", str(backup_dir), "--prefix", new_prefix], env=env,
                               capture_output=True, text=True)
        assert again.returncode != 0 and "exists" in again.stderr
    finally:
        for service in manifest["databases"]:
            drop(POSTGRES_ADMIN_DSN, f"{new_prefix}_{service}")
