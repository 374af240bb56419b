"""Periodic jobs of measurements (servicekit.periodic, sent by measurements' beat), against the real database (the
suite runs on PostgreSQL and on SQLite): uploads past the tenant's retention period are removed, the kit's outbox
pruning, the advisory lock that makes a second concurrent run skip, and the retention setting's API."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from measurements.imports.models import Import
from servicekit import periodic
from servicekit.tenancy import tenant_transaction

from .conftest import upload

pytestmark = pytest.mark.django_db(transaction=True)
CORTEX = Path(__file__).resolve().parents[3] / "testdata" / "cpet" / "spiro" / "cortex.xml"


def age_imports(tenant_id, days: int) -> None:
    with tenant_transaction(tenant_id):
        Import.objects.filter(tenant_id=tenant_id).update(created_at=timezone.now() - dt.timedelta(days=days))


def files_of(settings, tenant_id) -> list[Path]:
    return sorted(p for p in (Path(settings.UPLOADS_DIR) / tenant_id).rglob("*") if p.is_file())


def test_uploads_past_the_tenants_retention_are_removed_once(caller, tenant_a, tenant_b, athlete, settings):
    owner_a, owner_b = caller(tenant_a), caller(tenant_b)
    athlete_b = owner_b.post("/api/v1/athletes/", {"first_name": "B", "last_name": "B", "sex": "male"},
                             format="json").json()
    old_a = upload(owner_a, athlete["id"], CORTEX).json()
    upload(owner_b, athlete_b["id"], CORTEX)
    age_imports(tenant_a, 40)
    age_imports(tenant_b, 40)
    fresh_a = upload(owner_a, athlete["id"], CORTEX, key="fresh").json()
    assert owner_a.put("/api/v1/imports/settings", {"upload_retention_days": 30}, format="json").status_code == 200
    # tenant b keeps its uploads (no retention set)

    assert periodic.run("measurements.uploads.remove_expired") == 1
    assert [p.parent.name for p in files_of(settings, tenant_a)] == [fresh_a["id"]]
    assert len(files_of(settings, tenant_b)) == 1
    with tenant_transaction(tenant_a):
        removed = Import.objects.get(pk=old_a["id"])
        assert removed.file_removed_at is not None
        assert Import.objects.get(pk=fresh_a["id"]).file_removed_at is None
    assert periodic.run("measurements.uploads.remove_expired") == 0  # idempotent: nothing more to do
    with tenant_transaction(tenant_a):  # (no worker here: the import stayed queued) as if it had run
        Import.objects.filter(pk=old_a["id"]).update(status="done", finished_at=timezone.now())
    rerun = owner_a.post(f"/api/v1/imports/{old_a['id']}/rerun")
    assert rerun.status_code == 409 and rerun.json()["type"].endswith("file-gone")
    # the plan's storage quota no longer counts the removed file
    from measurements.imports.actions import stored_bytes

    with tenant_transaction(tenant_a):
        assert stored_bytes(tenant_a) == CORTEX.stat().st_size


def test_retention_setting_roles_and_validation(caller, tenant_a, tenant_b):
    owner, physiologist, viewer = caller(tenant_a), caller(tenant_a, "physiologist"), caller(tenant_a, "viewer")
    assert owner.get("/api/v1/imports/settings").json() == {"upload_retention_days": None}
    assert physiologist.put("/api/v1/imports/settings", {"upload_retention_days": 7},
                            format="json").status_code == 403
    assert viewer.get("/api/v1/imports/settings").status_code == 403
    bad = owner.put("/api/v1/imports/settings", {"upload_retention_days": 0}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "upload_retention_days"
    assert owner.put("/api/v1/imports/settings", {"upload_retention_days": 90}, format="json").json() == {
        "upload_retention_days": 90}
    assert physiologist.get("/api/v1/imports/settings").json() == {"upload_retention_days": 90}
    assert caller(tenant_b).get("/api/v1/imports/settings").json() == {"upload_retention_days": None}  # per tenant
    assert owner.put("/api/v1/imports/settings", {"upload_retention_days": None}, format="json").json() == {
        "upload_retention_days": None}


def test_sent_outbox_rows_and_old_inbox_rows_are_pruned(settings):
    import uuid

    from servicekit.events.models import InboxEvent, OutboxEvent

    now = timezone.now()
    old_sent = OutboxEvent.objects.create(event_id=uuid.uuid4(), type="t", body="{}", sent_at=now - dt.timedelta(days=8))
    recent_sent = OutboxEvent.objects.create(event_id=uuid.uuid4(), type="t", body="{}", sent_at=now)
    old_pending = OutboxEvent.objects.create(event_id=uuid.uuid4(), type="t", body="{}",
                                             created_at=now - dt.timedelta(days=30))
    InboxEvent.objects.create(event_id=uuid.uuid4(), type="t", received_at=now - dt.timedelta(days=31))
    kept_inbox = InboxEvent.objects.create(event_id=uuid.uuid4(), type="t", received_at=now)
    assert periodic.run("events.prune") == {"outbox_sent_removed": 1, "inbox_removed": 1}
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent_sent.pk, old_pending.pk}  # never unsent
    assert list(InboxEvent.objects.values_list("pk", flat=True)) == [kept_inbox.pk]
    assert not OutboxEvent.objects.filter(pk=old_sent.pk).exists()
    assert periodic.run("events.prune") == {"outbox_sent_removed": 0, "inbox_removed": 0}


@pytest.mark.postgres_only  # the lock is PostgreSQL's advisory lock; SQLite (local mode) runs one beat
def test_a_second_run_while_one_holds_the_lock_skips(settings):
    import psycopg

    other = psycopg.connect(**{k: v for k, v in connection.get_connection_params().items()
                               if k in ("host", "port", "user", "password", "dbname")}, autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [periodic._lock_key("events.prune")])
        assert periodic.run("events.prune") == "skipped"
        other.execute("SELECT pg_advisory_unlock(%s)", [periodic._lock_key("events.prune")])
        assert periodic.run("events.prune") == {"outbox_sent_removed": 0, "inbox_removed": 0}
    finally:
        other.close()


def test_the_beat_schedule_names_registered_tasks():
    from measurements.celery import app

    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert set(schedule) == set(settings_jobs()) and set(schedule) <= set(app.tasks)
    assert app.conf.beat_schedule_filename.endswith("beat-measurements")


def settings_jobs():
    from django.conf import settings

    return settings.PERIODIC_JOBS
