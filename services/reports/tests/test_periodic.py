"""reports' periodic jobs (servicekit.periodic, sent by reports' beat) against the real database (PostgreSQL and
SQLite) and measurements' HTTP answers (the suite's upstream server): reports of a test measurements no longer has
go with their files, other tenants' and live tests' reports stay, a file no report row names goes, measurements
unreachable changes nothing, and a second run finds nothing more."""
from __future__ import annotations

import pytest

from reports.documents import tasks
from reports.documents.models import Report
from servicekit import periodic
from servicekit.tenancy import tenant_transaction

pytestmark = pytest.mark.django_db(transaction=True)
JOB = "reports.files.remove_of_deleted_tests"


def rendered(caller, tenant, upstream, payload) -> tuple[str, str]:
    test_id = upstream.add_test(tenant, payload)
    report = caller(tenant).post("/api/v1/reports/", {"test": test_id, "language": "en", "template": "athlete"},
                                 format="json").json()
    assert tasks.render(report["id"], tenant) == "done"
    return test_id, report["id"]


def test_reports_of_deleted_tests_go_with_their_files(caller, tenant_a, tenant_b, upstream, measurements, storage,
                                                      zan_payload):
    deleted_test, doomed = rendered(caller, tenant_a, upstream, zan_payload)
    _, kept = rendered(caller, tenant_a, upstream, zan_payload)
    _, other_tenant = rendered(caller, tenant_b, upstream, zan_payload)
    storage.put(f"{tenant_a}/00000000-0000-4000-8000-000000000999.pdf", b"%PDF orphan")  # no row names it
    del upstream.objects[(tenant_a, f"/api/v1/tests/{deleted_test}/")]  # measurements deleted the test

    assert periodic.run(JOB) == 1
    with tenant_transaction(tenant_a):
        assert set(map(str, Report.objects.values_list("id", flat=True))) == {kept}
    assert sorted(storage.keys()) == sorted([f"{tenant_a}/{kept}.pdf", f"{tenant_b}/{other_tenant}.pdf"])
    assert caller(tenant_a).get(f"/api/v1/reports/{doomed}").status_code == 404
    assert periodic.run(JOB) == 0  # idempotent


def test_measurements_unreachable_changes_nothing(caller, tenant_a, upstream, measurements, storage, zan_payload):
    test_id, report_id = rendered(caller, tenant_a, upstream, zan_payload)
    del upstream.objects[(tenant_a, f"/api/v1/tests/{test_id}/")]
    upstream.fail_with = 503
    assert periodic.run(JOB) == 0
    assert list(storage.keys()) == [f"{tenant_a}/{report_id}.pdf"]
    upstream.fail_with = None
    assert periodic.run(JOB) == 1 and list(storage.keys()) == []


def test_the_beat_schedule_names_registered_tasks(settings):
    from reports.celery import app

    app.loader.import_default_modules()
    assert set(app.conf.beat_schedule) == set(settings.PERIODIC_JOBS) <= set(app.tasks)
