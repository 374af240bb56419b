"""measurements.test.analyzed → an automatic report when the tenant asked for it."""
import uuid

import pytest

from reports.documents.models import Report, ReportSettings
from servicekit.events.consumer import EventConsumer
from servicekit.events.envelope import make, parse
from servicekit.tenancy import tenant_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def analyzed(tenant_id, test_id, revision=1):
    return parse(make("measurements.test.analyzed", {"test_id": test_id, "athlete_id": str(uuid.uuid4()),
                                                     "revision": revision, "requested_by": str(uuid.uuid4())},
                      source="/vo2max/measurements", tenant_id=tenant_id, subject=test_id))


def consumer():
    from reports import consumers

    return EventConsumer("reports", {"measurements.test.analyzed": consumers.on_test_analyzed})


def test_auto_report_on_is_one_report_per_revision(tenant_a, tenant_b):
    with tenant_transaction(tenant_a):
        ReportSettings.objects.create(tenant_id=tenant_a, auto_report=True, language="ru", template="athlete")
    test_id = str(uuid.uuid4())
    c = consumer()
    assert c.process(analyzed(tenant_a, test_id)) == "handled"
    assert c.process(analyzed(tenant_a, test_id)) == "handled"  # another event id, same revision: same report
    assert c.process(analyzed(tenant_a, test_id, revision=2)) == "handled"
    with tenant_transaction(tenant_a):
        reports = list(Report.objects.order_by("created_at"))
    assert len(reports) == 2
    assert {(r.language, r.template, r.auto, r.status) for r in reports} == {("ru", "athlete", True, "queued")}
    event = analyzed(tenant_a, str(uuid.uuid4()))
    assert c.process(event) == "handled" and c.process(event) == "duplicate"


def test_auto_report_off_or_unset_requests_nothing(tenant_a, tenant_b):
    with tenant_transaction(tenant_a):
        ReportSettings.objects.create(tenant_id=tenant_a, auto_report=False)
    c = consumer()
    c.process(analyzed(tenant_a, str(uuid.uuid4())))
    c.process(analyzed(tenant_b, str(uuid.uuid4())))
    for tenant in (tenant_a, tenant_b):
        with tenant_transaction(tenant):
            assert Report.objects.count() == 0
