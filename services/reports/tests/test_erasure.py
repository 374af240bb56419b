"""Issue 18: a deleted test's, athlete's or tenant's reports and files go, and reports confirms each request once per
delivery (a redelivered event is a no-op; a repeated request removes nothing and confirms again)."""
import json
import uuid

import pytest

from reports.documents.models import Report, ReportSettings, report_key
from servicekit.events.consumer import EventConsumer
from servicekit.events.envelope import make, parse
from servicekit.events.models import OutboxEvent
from servicekit.events.registry import load
from servicekit.tenancy import tenant_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def event(event_type, data, tenant_id, source="/vo2max/measurements"):
    return parse(make(event_type, data, source=source, tenant_id=tenant_id))


def report(storage, tenant_id, test_id, athlete_id=None, done=True) -> Report:
    with tenant_transaction(tenant_id):
        row = Report.objects.create(tenant_id=tenant_id, test_id=test_id, athlete_id=athlete_id, language="en",
                                    template="full")
        if done:
            key = report_key(tenant_id, row.pk)
            storage.put(key, b"%PDF-1.4 Anna Ivanova VO2max 52.1\n")
            Report.objects.filter(pk=row.pk).update(status="done", file_path=key)
    return row


def confirmations():
    return [json.loads(r.body)["data"] for r in OutboxEvent.objects.filter(type="reports.deletion.confirmed")
            .order_by("id")]


def reports_of(tenant_id) -> set:
    with tenant_transaction(tenant_id):
        return {str(pk) for pk in Report.objects.values_list("id", flat=True)}


def test_deleted_tests_and_athletes_take_their_reports_and_files(tenant_a, tenant_b, storage):
    athlete, t1, t2, t3 = (str(uuid.uuid4()) for _ in range(4))
    r1 = report(storage, tenant_a, t1, athlete)
    r2 = report(storage, tenant_a, t2, done=False)  # queued: it knows only its test
    r3 = report(storage, tenant_a, t3, str(uuid.uuid4()))
    theirs = report(storage, tenant_b, t1, athlete)  # the same ids in another tenant are not these
    consumer = EventConsumer("reports", load())

    assert consumer.process(event("measurements.test.deleted", {"test_id": t3, "athlete_id": athlete},
                                  tenant_a)) == "handled"
    assert reports_of(tenant_a) == {str(r1.pk), str(r2.pk)}
    assert not storage.exists(report_key(tenant_a, r3.pk)) and storage.exists(report_key(tenant_a, r1.pk))
    assert confirmations()[-1]["scope"] == "test" and confirmations()[-1]["subject_id"] == t3
    assert confirmations()[-1]["removed"]["reports"] == 1 and confirmations()[-1]["removed"]["files"] == 1

    deleted = event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [t1, t2]}, tenant_a)
    assert consumer.process(deleted) == "handled"
    assert reports_of(tenant_a) == set()
    assert not storage.exists(report_key(tenant_a, r1.pk))
    confirmed = confirmations()[-1]
    assert (confirmed["scope"], confirmed["subject_id"]) == ("athlete", athlete)
    assert confirmed["removed"]["reports"] == 2 and confirmed["removed"]["files"] == 1
    assert confirmed["request_event_id"] == deleted.id
    assert consumer.process(deleted) == "duplicate" and len(confirmations()) == 2
    # measurements asking again: nothing left, confirmed again
    assert consumer.process(event("measurements.athlete.deleted",
                                  {"athlete_id": athlete, "test_ids": [t1, t2], "reemitted": 1}, tenant_a)) == "handled"
    assert confirmations()[-1]["removed"]["reports"] == 0 and len(confirmations()) == 3
    assert reports_of(tenant_b) == {str(theirs.pk)} and storage.exists(report_key(tenant_b, theirs.pk))


def test_a_deleted_tenant_leaves_no_report_settings_or_files(tenant_a, tenant_b, storage):
    report(storage, tenant_a, str(uuid.uuid4()), str(uuid.uuid4()))
    theirs = report(storage, tenant_b, str(uuid.uuid4()), str(uuid.uuid4()))
    with tenant_transaction(tenant_a):
        ReportSettings.objects.create(tenant_id=tenant_a, lab_name="Lab Nord", logo_png=b"\x89PNG")
    consumer = EventConsumer("reports", load())
    deleted = event("identity.tenant.deleted", {"tenant_id": tenant_a}, tenant_a, source="/vo2max/identity")
    assert consumer.process(deleted) == "handled"
    assert reports_of(tenant_a) == set()
    with tenant_transaction(tenant_a):
        assert ReportSettings.objects.count() == 0
    assert not (storage.root / tenant_a).exists()
    assert reports_of(tenant_b) == {str(theirs.pk)}
    confirmed = confirmations()[-1]
    assert (confirmed["scope"], confirmed["subject_id"]) == ("tenant", tenant_a)
    assert confirmed["removed"]["report"] == 1 and confirmed["removed"]["reportsettings"] == 1
    assert consumer.process(deleted) == "duplicate"


def test_a_test_deleted_with_its_athlete_is_left_to_the_athletes_request(tenant_a, storage):
    """measurements' cascade sends `measurements.test.deleted` (reason athlete_deleted) beside the athlete's request;
    handled first, it erases nothing, so the athlete's request (the one measurements waits for) counts what went."""
    athlete, test_id = str(uuid.uuid4()), str(uuid.uuid4())
    r1 = report(storage, tenant_a, test_id, athlete)
    consumer = EventConsumer("reports", load())
    assert consumer.process(event("measurements.test.deleted", {"test_id": test_id, "athlete_id": athlete,
                                                                "reason": "athlete_deleted"}, tenant_a)) == "handled"
    assert reports_of(tenant_a) == {str(r1.pk)} and confirmations() == []
    assert consumer.process(event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [test_id]},
                                  tenant_a)) == "handled"
    [confirmed] = confirmations()
    assert confirmed["scope"] == "athlete" and confirmed["removed"]["reports"] == 1
    assert confirmed["removed"]["files"] == 1 and reports_of(tenant_a) == set()
    assert not storage.exists(report_key(tenant_a, r1.pk))


def test_a_late_event_for_an_erased_test_or_athlete_makes_no_report_again(tenant_a, tenant_b, storage):
    """The tombstone: `measurements.test.analyzed` arriving after the test's (or its athlete's) erasure (an analysis
    that finished while it was deleted, an event relayed late) makes no automatic report; a report-ready not yet
    relayed goes with the erasure."""
    from reports.documents.models import ErasedSubject
    from servicekit.events import publish

    for tenant in (tenant_a, tenant_b):
        with tenant_transaction(tenant):
            ReportSettings.objects.create(tenant_id=tenant, auto_report=True)
    athlete, t1, t2, t3 = (str(uuid.uuid4()) for _ in range(4))
    r1 = report(storage, tenant_a, t1, athlete)
    with tenant_transaction(tenant_a):  # the report's ready event, still waiting for the relay
        publish("reports.report.ready", {"report_id": str(r1.pk), "test_id": t1, "athlete_id": athlete,
                                         "language": "en", "requested_by": str(uuid.uuid4())}, tenant_id=tenant_a)
    consumer = EventConsumer("reports", load())
    assert consumer.process(event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [t1]},
                                  tenant_a)) == "handled"
    assert consumer.process(event("measurements.test.deleted", {"test_id": t2, "athlete_id": str(uuid.uuid4())},
                                  tenant_a)) == "handled"
    assert confirmations()[0]["removed"]["unsent_events"] == 1
    assert not OutboxEvent.objects.filter(type="reports.report.ready").exists()

    def analyzed(tenant_id, test_id, athlete_id):
        return event("measurements.test.analyzed", {"test_id": test_id, "athlete_id": athlete_id, "revision": 1},
                     tenant_id)
    for late in (analyzed(tenant_a, t1, athlete), analyzed(tenant_a, t2, str(uuid.uuid4())),
                 analyzed(tenant_a, t3, athlete)):  # the athlete's: a test it had that the request did not name
        assert consumer.process(late) == "handled"
    assert reports_of(tenant_a) == set()
    # the same ids in another tenant are not erased; a test never deleted is reported as before
    assert consumer.process(analyzed(tenant_b, t1, athlete)) == "handled"
    assert len(reports_of(tenant_b)) == 1
    with tenant_transaction(tenant_a):
        assert {(t.scope, str(t.subject_id)) for t in ErasedSubject.objects.all()} == {
            ("athlete", athlete), ("test", t1), ("test", t2)}
    # a repeated request buries nothing twice
    assert consumer.process(event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [t1],
                                                                   "reemitted": 1}, tenant_a)) == "handled"
    with tenant_transaction(tenant_a):
        assert ErasedSubject.objects.count() == 3


def test_an_erased_athletes_dead_letters_go_even_without_a_report(tenant_a, tenant_b, storage):
    """servicekit.erasure.forget_events in reports' erasure: an analysed-test event reports gave up on (in
    `reports.events.dlq`, on the tests' broker) holds the test's results; it goes with the athlete's request even
    when the test never had a report; another tenant's and the deletion request's own dead letters stay."""
    from servicekit.events import broker, deadletters

    athlete, test_id = str(uuid.uuid4()), str(uuid.uuid4())
    deadletters.list_dead_letters("reports")  # declared: dead letters land there from now on

    def dead(tenant_id, event_type, data):
        env = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/vo2max/measurements", "type": event_type,
               "tenantid": tenant_id, "data": data}
        publisher = broker.Publisher()
        try:
            publisher.publish_batch([broker.Outgoing(env["id"], event_type, json.dumps(env), tenant_id,
                                                     routing_key="reports", exchange=broker.DLX_NAME)])
        finally:
            publisher.close()
        return env["id"]
    analysed = {"test_id": test_id, "athlete_id": athlete, "revision": 1, "vo2max_ml_kg_min": 52.1}
    gone = dead(tenant_a, "measurements.test.analyzed", analysed)
    kept = {dead(tenant_b, "measurements.test.analyzed", analysed),
            dead(tenant_a, "measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [test_id]})}
    consumer = EventConsumer("reports", load())
    assert consumer.process(event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [test_id]},
                                  tenant_a)) == "handled"
    [confirmed] = confirmations()
    assert confirmed["removed"]["reports"] == 0 and confirmed["removed"]["dead_letters"] == 1
    left = {d.event_id for d in deadletters.list_dead_letters("reports")}
    assert gone not in left and kept <= left
