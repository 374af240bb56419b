"""Back up and restore a SaaS installation: one PostgreSQL database per service (pg_dump custom format), the cluster's
roles, and the stored files (uploads, report files) from the local folders or the S3 bucket. See deploy/BACKUP.md.

    python tools/backup.py backup  --out /backups/2026-12-02 [--prefix vo2] [--admin-dsn ...]
                                   [--data-dir /var/lib/vo2 | --s3-bucket vo2-files]
    python tools/backup.py restore --from /backups/2026-12-02 --prefix vo2_restored [--roles]
                                   [--files-to /var/lib/vo2-restored | --s3-bucket vo2-restored]

A backup folder holds `<service>.dump` (pg_dump -Fc), `roles.sql` (pg_dumpall --roles-only: password hashes, keep it
as secret as the dumps), `files/<service>/<store>/<key>` (the same names as the objects in the bucket) and
`manifest.json` (what was taken, from which databases, and the sha256 of every file) — restore checks it first.

Restore creates the databases `<prefix>_<service>` (new names; the dumps are never restored over a live database),
owned by the same owner roles, the application roles granted as `servicekit.pgroles.provision` grants them; the
dumps carry the tables, row-level security policies (ENABLE/FORCE) and grants, so the application role still sees
only the tenant it sets. Needs pg_dump/pg_restore of the server's major version (or newer) on PATH.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libs" / "servicekit"))

SERVICES = ("identity", "measurements", "reports", "notifications")  # the services with a database
# Stored files: (service, store) → the folder under the installation's data dir (the services' default settings:
# UPLOADS_DIR = $VO2_DATA_DIR/uploads, REPORTS_DIR = $VO2_DATA_DIR/reports). In the bucket they are the objects
# `<service>/<store>/<key>` (servicekit.storage, S3_PREFIX left to its default, the service's name).
FILE_STORES = {("measurements", "uploads"): "uploads", ("reports", "reports"): "reports"}
ADMIN_DSN = os.environ.get("POSTGRES_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dsn_for(admin_dsn: str, database: str) -> str:
    import psycopg

    return psycopg.conninfo.make_conninfo(admin_dsn, dbname=database)


def run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def s3_client():
    """boto3 client from the same environment the services read (S3_ENDPOINT_URL, S3_REGION, AWS_* credentials)."""
    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
                        region_name=os.environ.get("S3_REGION") or None)


# -- backup ------------------------------------------------------------------------------------------------------
def backup(out: Path, prefix: str, admin_dsn: str, folders: dict[str, Path] | None, s3_bucket: str | None) -> dict:
    """`folders`: "uploads"/"reports" → the local folder holding them (local file storage); `s3_bucket` instead."""
    out.mkdir(parents=True, exist_ok=True)
    databases = {}
    for service in SERVICES:
        database = f"{prefix}_{service}"
        # custom format: compressed, restorable table by table, with ownership, grants and RLS policies
        run(["pg_dump", "--format=custom", "--file", str(out / f"{service}.dump"), "--dbname",
             dsn_for(admin_dsn, database)])
        databases[service] = database
    # roles are the cluster's, not a database's: needed to restore into a new cluster (not into this one)
    run(["pg_dumpall", "--roles-only", "--file", str(out / "roles.sql"), "--dbname", admin_dsn])
    (out / "roles.sql").chmod(0o600)
    # Files after the databases: a file written meanwhile is extra (harmless); a row without its file cannot happen
    # for files written before the dump began (rows point to files written before their commit).
    files_dir = out / "files"
    if s3_bucket:
        client = s3_client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket):
            for obj in page.get("Contents", []):
                target = files_dir / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(s3_bucket, obj["Key"], str(target))
    elif folders:
        for (service, store), folder in FILE_STORES.items():
            source = folders.get(folder)
            if source and source.is_dir():
                shutil.copytree(source, files_dir / service / store, dirs_exist_ok=True)
    manifest = {
        "taken_at": datetime.now(timezone.utc).isoformat(), "prefix": prefix, "databases": databases,
        "files_from": f"s3://{s3_bucket}" if s3_bucket else {k: str(v) for k, v in (folders or {}).items()},
        "sha256": {p.relative_to(out).as_posix(): sha256(p) for p in sorted(out.rglob("*"))
                   if p.is_file() and p.name != "manifest.json"},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


# -- restore -----------------------------------------------------------------------------------------------------
def verify(source: Path) -> dict:
    manifest = json.loads((source / "manifest.json").read_text())
    bad = [name for name, digest in manifest["sha256"].items()
           if not (source / name).is_file() or sha256(source / name) != digest]
    if bad:
        raise SystemExit(f"backup {source} is damaged: {len(bad)} files missing or changed, e.g. {bad[:5]}")
    return manifest


def restore(source: Path, prefix: str, admin_dsn: str, *, roles: bool = False, files_to: Path | None = None,
            s3_bucket: str | None = None, password: str | None = None) -> dict:
    import psycopg
    from servicekit.pgroles import provision

    manifest = verify(source)
    if roles:  # a new cluster: the roles first (existing ones make psql print errors it goes past; none is changed)
        subprocess.run(["psql", "--quiet", "--file", str(source / "roles.sql"), "--dbname", admin_dsn],
                       capture_output=True, text=True)
    restored = {}
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        taken = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    for service, original in manifest["databases"].items():
        database = f"{prefix}_{service}"
        if database in taken:
            raise SystemExit(f"{database} exists: restore only into new databases (pick another --prefix)")
        old_prefix = manifest["prefix"]
        # same owner and application roles as the original; a new database with the same grants
        provision(admin_dsn, database, f"{old_prefix}_{service}_owner", f"{old_prefix}_{service}_app",
                  password or os.urandom(16).hex())
        run(["pg_restore", "--exit-on-error", "--single-transaction", "--dbname", dsn_for(admin_dsn, database),
             str(source / f"{service}.dump")])
        restored[service] = database
    files = source / "files"
    if files.is_dir() and s3_bucket:
        client = s3_client()
        for path in sorted(p for p in files.rglob("*") if p.is_file()):
            client.upload_file(str(path), s3_bucket, path.relative_to(files).as_posix())
    elif files.is_dir() and files_to:
        for (service, store), folder in FILE_STORES.items():
            if (files / service / store).is_dir():
                shutil.copytree(files / service / store, files_to / folder, dirs_exist_ok=True)
    return restored


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup", help="dump every service database, the roles and the stored files")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--prefix", default="vo2", help="databases are <prefix>_<service> (compose: vo2)")
    b.add_argument("--admin-dsn", default=ADMIN_DSN)
    where = b.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, help="the installation's VO2_DATA_DIR (local file storage: its "
                       "uploads/ and reports/)")
    where.add_argument("--s3-bucket", help="the S3_BUCKET (FILE_STORAGE/REPORT_STORAGE=s3)")
    b.add_argument("--uploads-dir", type=Path, help="measurements' UPLOADS_DIR, if not <data-dir>/uploads "
                   "(compose: the uploads volume's uploads/)")
    b.add_argument("--reports-dir", type=Path, help="reports' REPORTS_DIR, if not <data-dir>/reports "
                   "(compose: the reportfiles volume's reports/)")
    r = sub.add_parser("restore", help="restore a backup into new databases <prefix>_<service>")
    r.add_argument("--from", dest="source", type=Path, required=True)
    r.add_argument("--prefix", required=True, help="new databases <prefix>_<service>; must not exist")
    r.add_argument("--admin-dsn", default=ADMIN_DSN)
    r.add_argument("--roles", action="store_true", help="create the roles from roles.sql first (a new cluster)")
    to = r.add_mutually_exclusive_group()
    to.add_argument("--files-to", type=Path, help="a data dir to put uploads/ and reports/ into")
    to.add_argument("--s3-bucket", help="a bucket to upload the files into (same object names)")
    args = parser.parse_args(argv)
    if args.command == "backup":
        folders = {name: path for name, path in (
            ("uploads", args.uploads_dir or (args.data_dir / "uploads" if args.data_dir else None)),
            ("reports", args.reports_dir or (args.data_dir / "reports" if args.data_dir else None))) if path}
        if args.s3_bucket and folders:
            raise SystemExit("--s3-bucket or folders, not both")
        manifest = backup(args.out, args.prefix, args.admin_dsn, folders, args.s3_bucket)
        print(f"backed up {len(manifest['databases'])} databases and {len(manifest['sha256'])} files to {args.out}")
    else:
        restored = restore(args.source, args.prefix, args.admin_dsn, roles=args.roles, files_to=args.files_to,
                           s3_bucket=args.s3_bucket)
        print("restored " + ", ".join(f"{s} → {d}" for s, d in restored.items()))


if __name__ == "__main__":
    main()
