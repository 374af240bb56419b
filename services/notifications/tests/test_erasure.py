"""Issue 18: what notifications holds about a deleted test, athlete or tenant (notifications, e-mails, webhook
deliveries with their attempts, the test directory) goes; the deletion events themselves still reach the
integrators' webhooks; notifications confirms every request (a redelivered event is a no-op)."""
import json
import uuid

import pytest
from django.utils import timezone

from notifications.directory.models import LabTest, Member
from notifications.inapp.models import Notification, Progress
from notifications.mail.models import EmailDelivery
from notifications.webhooks.models import Attempt, Delivery, Endpoint, RetryDue
from servicekit.events.consumer import EventConsumer
from servicekit.events.envelope import make, parse
from servicekit.events.models import OutboxEvent
from servicekit.events.registry import load
from servicekit.tenancy import tenant_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def event(event_type, data, tenant_id, source="/vo2max/measurements"):
    return parse(make(event_type, data, source=source, tenant_id=tenant_id))


def confirmations():
    return [json.loads(r.body)["data"] for r in OutboxEvent.objects.filter(type="notifications.deletion.confirmed")
            .order_by("id")]


def holdings(tenant_id, *, athlete_id, test_id, user_id, endpoint=None):
    """A notification, an e-mail, a webhook delivery (with an attempt) and a directory entry about the test."""
    with tenant_transaction(tenant_id):
        event_id = uuid.uuid4()
        Notification.objects.create(tenant_id=tenant_id, user_id=user_id, kind="import.done",
                                    title="Anna Ivanova: test imported", event_id=event_id,
                                    data={"test_id": test_id, "athlete_id": athlete_id})
        Notification.objects.create(tenant_id=tenant_id, user_id=user_id, kind="report.ready",
                                    title="Report of Anna Ivanova ready", data={"test_id": test_id,
                                                                               "report_id": str(uuid.uuid4())})
        EmailDelivery.objects.create(tenant_id=tenant_id, event_id=event_id, kind=f"import.done:{user_id}",
                                     to_email="coach@lab.example", subject="Anna Ivanova: test imported",
                                     body="VO2max 52.1")  # recorded before `about` existed: found by its event
        EmailDelivery.objects.create(tenant_id=tenant_id, event_id=uuid.uuid4(), kind=f"analysis.changed:{user_id}",
                                     to_email="coach@lab.example", subject="Anna Ivanova: analysis changed",
                                     about={"test_id": test_id, "athlete_id": athlete_id})
        LabTest.objects.create(tenant_id=tenant_id, test_id=test_id, athlete_id=athlete_id,
                               athlete_name="Anna Ivanova")
        Progress.objects.create(tenant_id=tenant_id, user_id=user_id, subject=Progress.IMPORT,
                                subject_id=uuid.uuid4(), status="done", progress=100, updated_at=timezone.now(),
                                data={"test_id": test_id, "athlete_id": athlete_id})
        if endpoint is not None:
            delivery = Delivery.objects.create(
                tenant_id=tenant_id, endpoint=endpoint, event_id=uuid.uuid4(), event_type="measurements.test.imported",
                payload=json.dumps({"data": {"test_id": test_id, "athlete_id": athlete_id}}))
            Attempt.objects.create(tenant_id=tenant_id, delivery=delivery, at=timezone.now(), status_code=500)
            RetryDue.objects.create(delivery_id=delivery.pk, tenant_id=tenant_id, due_at=timezone.now())


def count(tenant_id, model):
    with tenant_transaction(tenant_id):
        return model.objects.count()


@pytest.fixture
def endpoint(tenant_a):
    with tenant_transaction(tenant_a):
        return Endpoint.objects.create(tenant_id=tenant_a, url="https://hooks.example/vo2", secret="whsec_x",
                                       events=["measurements.*"], created_by=uuid.uuid4())


def test_a_deleted_athletes_traces_go_and_integrators_are_told(tenant_a, tenant_b, endpoint, settings):
    settings.WEBHOOK_DISPATCH = "none"
    athlete, test_id, user = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    holdings(tenant_a, athlete_id=athlete, test_id=test_id, user_id=user, endpoint=endpoint)
    holdings(tenant_b, athlete_id=athlete, test_id=test_id, user_id=user)  # same ids elsewhere: not these
    consumer = EventConsumer("notifications", load())

    deleted = event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [test_id]}, tenant_a)
    assert consumer.process(deleted) == "handled"
    for model in (Notification, Progress, EmailDelivery, LabTest, Attempt):
        assert count(tenant_a, model) == 0, model
    # the only delivery left is the deletion event itself, to the subscribed endpoint
    with tenant_transaction(tenant_a):
        [kept] = Delivery.objects.all()
    assert kept.event_type == "measurements.athlete.deleted"
    # the erased deliveries' retry rows went too (the kept one has its own watchdog)
    assert set(RetryDue.objects.filter(tenant_id=tenant_a).values_list("delivery_id", flat=True)) <= {kept.pk}
    assert count(tenant_b, Notification) == 2 and count(tenant_b, LabTest) == 1
    [confirmed] = confirmations()
    assert (confirmed["scope"], confirmed["subject_id"]) == ("athlete", athlete)
    assert confirmed["removed"] == {"notifications": 2, "progress": 1, "emails": 2, "webhook_deliveries": 1,
                                    "webhook_attempts": 1, "directory_tests": 1, "sent_events": 0,
                                    "unsent_events": 0, "dead_letters": 0}
    assert consumer.process(deleted) == "duplicate" and len(confirmations()) == 1
    again = event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [test_id], "reemitted": 1},
                  tenant_a)
    assert consumer.process(again) == "handled"
    assert set(confirmations()[-1]["removed"].values()) == {0}
    with tenant_transaction(tenant_a):  # a repeated request is not news to integrators
        assert Delivery.objects.count() == 1


def test_a_deleted_test_is_erased_and_confirmed(tenant_a):
    athlete, test_id, other_test, user = (str(uuid.uuid4()) for _ in range(4))
    holdings(tenant_a, athlete_id=athlete, test_id=test_id, user_id=user)
    with tenant_transaction(tenant_a):
        Notification.objects.create(tenant_id=tenant_a, user_id=user, kind="report.ready", title="other",
                                    data={"test_id": other_test})
    consumer = EventConsumer("notifications", load())
    assert consumer.process(event("measurements.test.deleted", {"test_id": test_id, "athlete_id": athlete},
                                  tenant_a)) == "handled"
    with tenant_transaction(tenant_a):
        assert list(Notification.objects.values_list("title", flat=True)) == ["other"]
        # the athlete's other traces are the athlete's deletion's to remove; the import notification named the test
        assert EmailDelivery.objects.count() == 0 and LabTest.objects.count() == 0
    assert confirmations()[-1]["scope"] == "test" and confirmations()[-1]["subject_id"] == test_id


def test_a_test_deleted_with_its_athlete_is_left_to_the_athletes_request(tenant_a, settings):
    """measurements' cascade sends `measurements.test.deleted` (reason athlete_deleted) beside the athlete's request;
    handled first, it erases nothing, so the athlete's request (the one measurements waits for) counts what went."""
    settings.WEBHOOK_DISPATCH = "none"
    athlete, test_id, user = (str(uuid.uuid4()) for _ in range(3))
    holdings(tenant_a, athlete_id=athlete, test_id=test_id, user_id=user)
    consumer = EventConsumer("notifications", load())
    assert consumer.process(event("measurements.test.deleted", {"test_id": test_id, "athlete_id": athlete,
                                                                "reason": "athlete_deleted"}, tenant_a)) == "handled"
    assert count(tenant_a, Notification) == 2 and count(tenant_a, LabTest) == 1 and confirmations() == []
    assert consumer.process(event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [test_id]},
                                  tenant_a)) == "handled"
    [confirmed] = confirmations()
    assert confirmed["scope"] == "athlete" and confirmed["removed"]["notifications"] == 2
    assert confirmed["removed"]["directory_tests"] == 1 and count(tenant_a, Notification) == 0


def test_a_deleted_tenant_leaves_nothing_in_notifications(tenant_a, tenant_b, endpoint):
    holdings(tenant_a, athlete_id=str(uuid.uuid4()), test_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()),
             endpoint=endpoint)
    with tenant_transaction(tenant_a):
        Member.objects.create(tenant_id=tenant_a, user_id=uuid.uuid4(), email="coach@lab.example", name="Coach")
    holdings(tenant_b, athlete_id=str(uuid.uuid4()), test_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()))
    consumer = EventConsumer("notifications", load())
    deleted = event("identity.tenant.deleted", {"tenant_id": tenant_a}, tenant_a, source="/vo2max/identity")
    assert consumer.process(deleted) == "handled"
    for model in (Notification, EmailDelivery, LabTest, Member, Endpoint, Delivery, Attempt):
        assert count(tenant_a, model) == 0, model
    assert RetryDue.objects.filter(tenant_id=tenant_a).count() == 0
    assert count(tenant_b, Notification) == 2
    confirmed = confirmations()[-1]
    assert (confirmed["scope"], confirmed["subject_id"]) == ("tenant", tenant_a)
    assert confirmed["removed"]["endpoint"] == 1 and confirmed["removed"]["member"] == 1
    assert consumer.process(deleted) == "duplicate"


# ---- tombstones: what notifications erased stays erased ---------------------------------------------------------

def late_events(tenant_id, *, athlete, tests, user):
    """What may still arrive about an athlete and its tests after their erasure: a report finished while they were
    being deleted, an import's last progress, an analysis relayed late, an import of a test the request did not
    name (`tests[-1]`), each naming someone who would be told."""
    t1, t2, t3 = tests
    report = str(uuid.uuid4())
    return [
        event("reports.report.ready", {"report_id": report, "test_id": t1, "athlete_id": athlete, "language": "en",
                                       "requested_by": user, "download_path": f"/api/v1/reports/{report}/file"},
              tenant_id, source="/vo2max/reports"),
        event("reports.report.progressed", {"report_id": report, "test_id": t2, "requested_by": user,
                                            "stage": "rendering", "progress": 40, "generation": 1},
              tenant_id, source="/vo2max/reports"),
        event("reports.report.failed", {"report_id": str(uuid.uuid4()), "test_id": t2, "requested_by": user,
                                        "language": "en", "error_code": "no-analysis", "detail": "x"},
              tenant_id, source="/vo2max/reports"),
        event("measurements.import.progressed", {"import_id": str(uuid.uuid4()), "athlete_id": athlete,
                                                 "imported_by": user, "stage": "parsing", "progress": 30,
                                                 "generation": 1}, tenant_id),
        event("measurements.test.analyzed", {"test_id": t2, "athlete_id": str(uuid.uuid4()), "revision": 2,
                                             "requested_by": str(uuid.uuid4())}, tenant_id),
        event("measurements.test.imported", {"test_id": t3, "athlete_id": athlete, "import_id": str(uuid.uuid4()),
                                             "imported_by": user, "format": "zan", "athlete_name": "Anna Ivanova",
                                             "date": "2026-11-30", "sample_count": 900}, tenant_id),
    ]


def traces(tenant_id) -> dict:
    """What notifications holds for the tenant, the deletion events' own webhook deliveries aside."""
    with tenant_transaction(tenant_id):
        return {"notifications": Notification.objects.count(), "progress": Progress.objects.count(),
                "emails": EmailDelivery.objects.count(), "directory": LabTest.objects.count(),
                "deliveries": Delivery.objects.exclude(event_type__endswith=".deleted").count()}


@pytest.fixture
def subscribed(tenant_a, tenant_b):
    """Both tenants: a member who is told of everything in-app and by e-mail, an endpoint for every event."""
    from notifications.preferences.models import Preference  # noqa: F401  (defaults: in-app on)

    user = str(uuid.uuid4())
    for tenant in (tenant_a, tenant_b):
        with tenant_transaction(tenant):
            Member.objects.create(tenant_id=tenant, user_id=user, email="coach@lab.example", name="Coach",
                                  roles=["owner"])
            Endpoint.objects.create(tenant_id=tenant, url="https://hooks.example/vo2", secret="whsec_x",
                                    events=["measurements.*", "reports.*"], created_by=uuid.uuid4())
    return user


def test_a_late_event_about_an_erased_athlete_or_test_writes_nothing_again(tenant_a, tenant_b, subscribed, settings):
    """The tombstone: after the athlete's erasure (its tests named) and a test's, every later event about them —
    whichever of test or athlete it names — writes no notification, progress, e-mail, directory entry or webhook
    delivery; the same events in another tenant (same ids) are handled as ever."""
    from notifications.erasure.models import ErasedSubject

    settings.WEBHOOK_DISPATCH = "none"
    athlete, t1, t2, t3 = (str(uuid.uuid4()) for _ in range(4))
    consumer = EventConsumer("notifications", load())
    assert consumer.process(event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [t1]},
                                  tenant_a)) == "handled"
    assert consumer.process(event("measurements.test.deleted", {"test_id": t2, "athlete_id": str(uuid.uuid4())},
                                  tenant_a)) == "handled"
    with tenant_transaction(tenant_a):
        assert {(t.scope, str(t.subject_id)) for t in ErasedSubject.objects.all()} == {
            ("athlete", athlete), ("test", t1), ("test", t2)}
    before = traces(tenant_a)
    for late in late_events(tenant_a, athlete=athlete, tests=(t1, t2, t3), user=subscribed):
        assert consumer.process(late) == "handled", late.type
    assert traces(tenant_a) == before == {"notifications": 0, "progress": 0, "emails": 0, "directory": 0,
                                          "deliveries": 0}
    # another tenant's same ids were never erased: every event writes there as before
    for late in late_events(tenant_b, athlete=athlete, tests=(t1, t2, t3), user=subscribed):
        assert consumer.process(late) == "handled", late.type
    found = traces(tenant_b)
    assert found["notifications"] >= 3 and found["progress"] >= 2 and found["directory"] == 1
    assert found["deliveries"] == 4  # ready, failed, analyzed, imported (progress is not a webhook event)
    # a repeated request buries nothing twice, and is still confirmed
    assert consumer.process(event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [t1],
                                                                   "reemitted": 1}, tenant_a)) == "handled"
    assert confirmations()[-1]["scope"] == "athlete"
    with tenant_transaction(tenant_a):
        assert ErasedSubject.objects.count() == 3


def test_a_late_event_in_the_same_batch_as_the_erasure_writes_nothing(tenant_a, subscribed, settings):
    """A batch (one transaction) holding the athlete's deletion then a report-ready about its test: the tombstone
    the erasure wrote in the batch is seen by the later event (the batch's cache is kept true), while the events
    before the deletion are erased by it."""
    settings.WEBHOOK_DISPATCH = "none"
    athlete, t1, t2, t3 = (str(uuid.uuid4()) for _ in range(4))
    earlier = late_events(tenant_a, athlete=athlete, tests=(t1, t2, t3), user=subscribed)
    later = late_events(tenant_a, athlete=athlete, tests=(t1, t2, t3), user=subscribed)
    deleted = event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [t1, t2, t3]}, tenant_a)
    consumer = EventConsumer("notifications", load(), batch_size=50)
    work = [*earlier, deleted, *later]
    assert consumer.process_batch(tenant_a, work) == ["handled"] * len(work)
    assert traces(tenant_a) == {"notifications": 0, "progress": 0, "emails": 0, "directory": 0, "deliveries": 0}
    [confirmed] = confirmations()
    assert confirmed["removed"]["notifications"] >= 3 and confirmed["removed"]["directory_tests"] == 1


def test_a_late_event_of_an_erased_tenant_writes_nothing(tenant_a, tenant_b, subscribed, settings):
    """The tenant's erasure keeps the tombstones and buries the tenant: a late member, invitation or report event
    of the tenant writes nothing (no member with an e-mail address comes back)."""
    from notifications.erasure.models import ErasedSubject

    settings.WEBHOOK_DISPATCH = "none"
    consumer = EventConsumer("notifications", load())
    assert consumer.process(event("identity.tenant.deleted", {"tenant_id": tenant_a}, tenant_a,
                                  source="/vo2max/identity")) == "handled"
    assert count(tenant_a, Member) == 0 and count(tenant_a, Endpoint) == 0
    user = str(uuid.uuid4())

    def member_events(tenant_id):
        return [event("identity.user.created", {"user_id": user, "tenant_id": tenant_id, "email": "late@lab.example",
                                                "roles": ["owner"], "name": "Late Owner"}, tenant_id,
                      source="/vo2max/identity"),
                *late_events(tenant_id, athlete=str(uuid.uuid4()), tests=[str(uuid.uuid4()) for _ in range(3)],
                             user=user)]
    for late in member_events(tenant_a):
        assert consumer.process(late) == "handled", late.type
    assert count(tenant_a, Member) == 0
    assert traces(tenant_a) == {"notifications": 0, "progress": 0, "emails": 0, "directory": 0, "deliveries": 0}
    with tenant_transaction(tenant_a):
        assert [(t.scope, str(t.subject_id)) for t in ErasedSubject.objects.all()] == [("tenant", tenant_a)]
    for late in member_events(tenant_b):
        assert consumer.process(late) == "handled", late.type
    assert count(tenant_b, Member) == 2 and traces(tenant_b)["notifications"] >= 3


def test_the_events_about_an_erased_athlete_go_from_the_outbox_and_the_dead_letters(tenant_a, tenant_b):
    """servicekit.erasure.forget_events in notifications' erasure: its outbox rows naming the athlete or its tests
    go, sent or not; so do its dead letters naming them (`notifications.events.dlq`, on the tests' broker); the
    erasure's own events, other tenants' and other subjects' stay."""
    from servicekit.events import broker, deadletters

    athlete, test_id, other = (str(uuid.uuid4()) for _ in range(3))

    def outbox(tenant_id, event_type, data, *, sent):  # the envelope's shape (the kit reads no payload here)
        env = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/vo2max/notifications", "type": event_type,
               "tenantid": tenant_id, "data": data}
        row = OutboxEvent.objects.create(event_id=env["id"], type=event_type, tenant_id=tenant_id,
                                         body=json.dumps(env), sent_at=timezone.now() if sent else None)
        return row.event_id

    ping = {"webhook_id": str(uuid.uuid4()), "url": "https://hooks.example/vo2"}
    naming = [outbox(tenant_a, "measurements.test.imported", {"test_id": test_id, "athlete_id": athlete,
                                                              "athlete_name": "Anna Ivanova"}, sent=s)
              for s in (True, False)]
    kept = [outbox(tenant_a, "measurements.test.imported", {"test_id": other, "athlete_id": other}, sent=True),
            outbox(tenant_b, "measurements.test.imported", {"test_id": test_id, "athlete_id": athlete}, sent=True),
            outbox(tenant_a, "notifications.webhook.ping", ping, sent=False)]
    deadletters.list_dead_letters("notifications")  # declared: dead letters land there from now on

    def dead(tenant_id, data, event_type="reports.report.ready"):
        env = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/vo2max/reports", "type": event_type,
               "tenantid": tenant_id, "data": data}
        publisher = broker.Publisher()
        try:
            publisher.publish_batch([broker.Outgoing(env["id"], event_type, json.dumps(env), tenant_id,
                                                     routing_key="notifications", exchange=broker.DLX_NAME)])
        finally:
            publisher.close()
        return env["id"]
    dead_gone = dead(tenant_a, {"report_id": str(uuid.uuid4()), "test_id": test_id})
    dead_kept = [dead(tenant_b, {"report_id": str(uuid.uuid4()), "test_id": test_id}),
                 dead(tenant_a, {"athlete_id": athlete, "test_ids": [test_id]}, "measurements.athlete.deleted")]

    consumer = EventConsumer("notifications", load())
    assert consumer.process(event("measurements.athlete.deleted", {"athlete_id": athlete, "test_ids": [test_id]},
                                  tenant_a)) == "handled"
    [confirmed] = confirmations()
    assert (confirmed["removed"]["sent_events"], confirmed["removed"]["unsent_events"],
            confirmed["removed"]["dead_letters"]) == (1, 1, 1)
    assert not OutboxEvent.objects.filter(event_id__in=naming).exists()
    assert OutboxEvent.objects.filter(event_id__in=kept).count() == len(kept)
    assert OutboxEvent.objects.filter(type="notifications.deletion.confirmed").count() == 1  # it goes out
    left = deadletters.list_dead_letters("notifications")
    assert dead_gone not in {d.event_id for d in left} and set(dead_kept) <= {d.event_id for d in left}
    # the tenant's erasure takes the rest of its dead letters, its own request aside
    assert consumer.process(event("identity.tenant.deleted", {"tenant_id": tenant_a}, tenant_a,
                                  source="/vo2max/identity")) == "handled"
    left = {d.event_id: d for d in deadletters.list_dead_letters("notifications")}
    assert set(left) == set(dead_kept)  # another tenant's, and the deletion request itself (ids only)
