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
                                    "webhook_attempts": 1, "directory_tests": 1, "sent_events": 0}
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
