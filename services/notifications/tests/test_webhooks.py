"""Signed webhooks: endpoints (owners and admins), Standard Webhooks signatures verified with the reference library,
deliveries and their log, retries on the schedule then the endpoint disabled, rotation overlap, the per-endpoint
concurrency limit, timeouts, manual retry, ping, the sweep of long waits."""
from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from servicekit import jobs
from servicekit.events import envelope, registry
from servicekit.events.consumer import EventConsumer
from servicekit.tenancy import tenant_transaction

from notifications.inapp.models import Notification
from notifications.webhooks import actions, tasks
from notifications.webhooks.models import Attempt, Delivery, Endpoint, RetryDue, SendingSlot

from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def local_rules(settings):
    settings.WEBHOOK_PUBLIC_ONLY = False     # the receiver is on 127.0.0.1 (test_webhook_addresses has SaaS rules)
    settings.WEBHOOK_DISPATCH = "none"       # each test drives the attempts itself (the e2e tests use the worker)
    settings.WEBHOOK_RETRY_SCHEDULE = [0.0, 0.0]
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


def report_ready(tenant, **extra):
    data = {"report_id": str(uuid.uuid4()), "test_id": str(uuid.uuid4()), "athlete_id": str(uuid.uuid4()),
            "language": "en", "requested_by": str(uuid.uuid4()), **extra}
    raw = envelope.make("reports.report.ready", data, source="/vo2max/reports", tenant_id=tenant)
    return envelope.parse(json.dumps(raw))


def create(owner, url, events=("reports.report.ready",), **extra):
    response = owner.post("/api/v1/webhooks/", {"url": url, "events": list(events), **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def deliveries(tenant):
    with tenant_transaction(tenant):
        return list(Delivery.objects.order_by("created_at"))


def run(delivery, tenant, final=False):
    try:
        return tasks.deliver.run(str(delivery.id), tenant, final=final)
    except jobs.RetryLater as exc:
        return ("retry", exc.countdown)


def verify(secret, request):
    return Webhook(secret).verify(request["body"], request["headers"])


# ---- API: roles and tenants ----------------------------------------------------------------------------------------

def test_owner_and_admin_manage_endpoints_and_the_secret_is_shown_once(caller, tenant_a):
    owner = caller(tenant_a, "owner")
    made = create(owner, "http://127.0.0.1:9/hooks", ["reports.*", "measurements.test.analyzed"],
                  description="LIMS")
    assert made["secret"].startswith("whsec_") and made["enabled"] is True
    listed = owner.get("/api/v1/webhooks/").json()["results"]
    assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]
    assert "secret" not in owner.get(f"/api/v1/webhooks/{made['id']}").json()
    admin = caller(tenant_a, "admin")
    changed = admin.patch(f"/api/v1/webhooks/{made['id']}", {"enabled": False, "description": "off"}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False and "secret" not in changed.json()
    rotated = admin.post(f"/api/v1/webhooks/{made['id']}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    assert admin.delete(f"/api/v1/webhooks/{made['id']}").status_code == 204
    assert owner.get(f"/api/v1/webhooks/{made['id']}").status_code == 404


@pytest.mark.parametrize("role", ["physiologist", "athlete", "viewer"])
def test_other_roles_get_403_on_every_route(caller, tenant_a, role):
    made = create(caller(tenant_a), "http://127.0.0.1:9/hooks")
    member = caller(tenant_a, role)
    some = uuid.uuid4()
    for method, path in [("get", "/api/v1/webhooks/"), ("post", "/api/v1/webhooks/"),
                         ("get", f"/api/v1/webhooks/{made['id']}"), ("patch", f"/api/v1/webhooks/{made['id']}"),
                         ("delete", f"/api/v1/webhooks/{made['id']}"),
                         ("post", f"/api/v1/webhooks/{made['id']}/rotate-secret"),
                         ("post", f"/api/v1/webhooks/{made['id']}/ping"),
                         ("get", f"/api/v1/webhooks/{made['id']}/deliveries"),
                         ("post", f"/api/v1/webhooks/{made['id']}/deliveries/{some}/retry")]:
        response = getattr(member, method)(path, {}, format="json")
        assert response.status_code == 403, (method, path, response.status_code)
        assert response["Content-Type"] == "application/problem+json"


def test_another_tenants_ids_are_404_on_every_route(caller, tenant_a, tenant_b):
    owner = caller(tenant_a)
    made = create(owner, "http://127.0.0.1:9/hooks")
    owner.post(f"/api/v1/webhooks/{made['id']}/ping")
    [delivery] = deliveries(tenant_a)
    stranger = caller(tenant_b, "owner")
    for method, path in [("get", f"/api/v1/webhooks/{made['id']}"), ("patch", f"/api/v1/webhooks/{made['id']}"),
                         ("delete", f"/api/v1/webhooks/{made['id']}"),
                         ("post", f"/api/v1/webhooks/{made['id']}/rotate-secret"),
                         ("post", f"/api/v1/webhooks/{made['id']}/ping"),
                         ("get", f"/api/v1/webhooks/{made['id']}/deliveries"),
                         ("post", f"/api/v1/webhooks/{made['id']}/deliveries/{delivery.id}/retry")]:
        response = getattr(stranger, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    assert stranger.get("/api/v1/webhooks/").json()["results"] == []
    # and a delivery of another endpoint of the same tenant is not reachable under this one
    other = create(owner, "http://127.0.0.1:9/other")
    assert owner.post(f"/api/v1/webhooks/{other['id']}/deliveries/{delivery.id}/retry").status_code == 404
    assert owner.get(f"/api/v1/webhooks/{made['id']}").json()["description"] == ""


def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(caller, tenant_a):
    owner = caller(tenant_a)
    for body, field in [({"url": "http://127.0.0.1:9/", "events": ["billing.*"]}, "events"),
                        ({"url": "http://127.0.0.1:9/", "events": []}, "events"),
                        ({"url": "ftp://127.0.0.1/", "events": ["*"]}, "url"),
                        ({"url": "http://user:pw@127.0.0.1/", "events": ["*"]}, "url"),
                        ({"events": ["*"]}, "url")]:
        response = owner.post("/api/v1/webhooks/", body, format="json")
        assert response.status_code == 400 and response["Content-Type"] == "application/problem+json", body
        assert field in json.dumps(response.json()["errors"]), response.json()
    with tenant_transaction(tenant_a):
        assert not Endpoint.objects.exists()


def test_no_token_is_401(client):
    assert client.get("/api/v1/webhooks/").status_code == 401


# ---- deliveries ----------------------------------------------------------------------------------------------------

def test_an_event_reaches_subscribed_endpoints_signed_per_standard_webhooks(caller, tenant_a, tenant_b):
    owner = caller(tenant_a)
    with Receiver() as receiver:
        made = create(owner, receiver.url, ["reports.*"])
        create(owner, receiver.url + "/other", ["measurements.*"])          # not subscribed
        create(caller(tenant_b), receiver.url + "/b", ["*"])                 # another tenant's
        event = report_ready(tenant_a)
        consumer = EventConsumer("notifications", registry.load())
        assert consumer.process(event) == "handled"
        assert consumer.process(event) == "duplicate"
        [delivery] = deliveries(tenant_a)
        assert deliveries(tenant_b) == []
        assert run(delivery, tenant_a) == actions.DONE
        assert run(delivery, tenant_a) == actions.SKIPPED                   # a duplicate task sends nothing
    [request] = receiver.requests
    assert request["path"] == "/hooks"
    assert request["headers"]["webhook-id"] == event.id                     # the idempotency key
    payload = verify(made["secret"], request)                               # the reference algorithm
    assert payload["id"] == event.id and payload["type"] == "reports.report.ready"
    assert payload["specversion"] == "1.0" and payload["tenantid"] == tenant_a and payload["data"] == event.data
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "A" * 44, request)
    log = owner.get(f"/api/v1/webhooks/{made['id']}/deliveries").json()["results"]
    assert log[0]["status"] == "done" and log[0]["event_id"] == event.id and log[0]["attempts"] == 1
    [attempt] = log[0]["attempt_log"]
    assert attempt["status_code"] == 200 and attempt["response_excerpt"] == "ok" and attempt["latency_ms"] >= 0


def test_a_failing_receiver_gets_the_retries_then_the_endpoint_is_disabled_and_its_owner_told(caller, tenant_a):
    owner = caller(tenant_a)
    with Receiver(status=500, body=b"boom") as receiver:
        made = create(owner, receiver.url)
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        [delivery] = deliveries(tenant_a)
        assert run(delivery, tenant_a)[0] == "retry"
        assert run(delivery, tenant_a)[0] == "retry"
        assert run(delivery, tenant_a) == actions.FAILED                    # the schedule (2 retries) ran out
    assert len(receiver.requests) == 3
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    shown = owner.get(f"/api/v1/webhooks/{made['id']}").json()
    assert shown["enabled"] is False and shown["disabled_reason"]
    log = owner.get(f"/api/v1/webhooks/{made['id']}/deliveries").json()["results"][0]
    assert log["status"] == "failed" and [a["status_code"] for a in log["attempt_log"]] == [500, 500, 500]
    assert log["attempt_log"][0]["response_excerpt"] == "boom" and "HTTP 500" in log["problem"]["detail"]
    with tenant_transaction(tenant_a):
        [told] = Notification.objects.filter(kind="webhook.disabled")
    assert str(told.user_id) == owner.user_id and receiver.url in told.body
    # disabled: a new event records nothing; enabled again, it does
    EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
    assert len(deliveries(tenant_a)) == 1
    owner.patch(f"/api/v1/webhooks/{made['id']}", {"enabled": True}, format="json")
    assert owner.get(f"/api/v1/webhooks/{made['id']}").json()["disabled_reason"] == ""
    EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
    assert len(deliveries(tenant_a)) == 2


def test_the_retry_waits_follow_the_schedule_with_jitter(settings, caller, tenant_a):
    settings.WEBHOOK_RETRY_SCHEDULE = [5, 300, 1800]
    waits = [[actions.retry_delay(n) for n in (1, 2, 3)] for _ in range(50)]
    for first, second, third in waits:
        assert 4 <= first <= 6 and 240 <= second <= 360 and 1440 <= third <= 2160
    assert len({w[0] for w in waits}) > 1                                      # jitter
    assert actions.retry_delay(4) is None
    default = [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert 20 * 3600 <= sum(default) <= 30 * 3600                               # about a day


def test_a_success_during_the_retries_keeps_the_endpoint(caller, tenant_a):
    owner = caller(tenant_a)
    with Receiver(status=500) as receiver:
        made = create(owner, receiver.url)
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        [delivery] = deliveries(tenant_a)
        assert run(delivery, tenant_a)[0] == "retry"
        receiver.status = 204
        assert run(delivery, tenant_a) == actions.DONE
    assert owner.get(f"/api/v1/webhooks/{made['id']}").json()["enabled"] is True


def test_a_rotated_secret_signs_beside_the_old_one_during_the_overlap(settings, caller, tenant_a):
    owner = caller(tenant_a)
    with Receiver() as receiver:
        made = create(owner, receiver.url)
        new = owner.post(f"/api/v1/webhooks/{made['id']}/rotate-secret").json()["secret"]
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        [delivery] = deliveries(tenant_a)
        run(delivery, tenant_a)
        settings.WEBHOOK_SECRET_OVERLAP_SECONDS = 0
        newer = owner.post(f"/api/v1/webhooks/{made['id']}/rotate-secret").json()["secret"]
        with tenant_transaction(tenant_a):
            Endpoint.objects.filter(pk=made["id"]).update(previous_secret_until=timezone.now())
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        run(deliveries(tenant_a)[1], tenant_a)
    during, after = receiver.requests
    assert len(during["headers"]["webhook-signature"].split(" ")) == 2
    verify(made["secret"], during)
    verify(new, during)
    assert len(after["headers"]["webhook-signature"].split(" ")) == 1
    verify(newer, after)
    with pytest.raises(WebhookVerificationError):
        verify(new, after)


def test_a_slow_receiver_times_out_and_holds_only_its_own_slots(settings, caller, tenant_a):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOK_MAX_IN_FLIGHT = 1
    owner = caller(tenant_a)
    with Receiver(delay=3) as slow, Receiver() as fast:
        slow_endpoint = create(owner, slow.url)
        create(owner, fast.url)
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        by_url = {}
        for d in deliveries(tenant_a):
            by_url.setdefault(d.endpoint_id, []).append(d)
        slow_one, slow_two = by_url[uuid.UUID(slow_endpoint["id"])]
        # a request to the slow endpoint is out (its lease is held): the next one waits, others go on
        with tenant_transaction(tenant_a):
            state, _ = actions.claim(str(slow_one.id))
        assert state == actions.SEND
        outcome = run(slow_two, tenant_a)
        assert outcome[0] == "retry" and outcome[1] <= 1.0                  # busy: back in a moment
        for d in [d for k, v in by_url.items() if k != uuid.UUID(slow_endpoint["id"])for d in v]:
            assert run(d, tenant_a) == actions.DONE
        with tenant_transaction(tenant_a):
            Delivery.objects.filter(pk=slow_one.pk).update(sending_until=None)  # that request "ended"
            actions.release_slot(Delivery.objects.get(pk=slow_one.pk))
        assert run(slow_two, tenant_a)[0] == "retry"                        # timed out: a retry is scheduled
    assert len(fast.requests) == 2
    with tenant_transaction(tenant_a):
        attempt = Attempt.objects.get(delivery_id=slow_two.id)
    assert attempt.status_code is None and "Timeout" in attempt.error and attempt.latency_ms < 2500


def three_deliveries_to_one_receiver(owner, tenant, receiver):
    create(owner, receiver.url)
    for _ in range(3):
        EventConsumer("notifications", registry.load()).process(report_ready(tenant))
    return deliveries(tenant)


def test_each_request_out_holds_one_of_the_endpoints_slots_until_it_is_recorded(settings, caller, tenant_a):
    settings.WEBHOOK_MAX_IN_FLIGHT = 2
    with Receiver() as receiver:
        one, two, three = three_deliveries_to_one_receiver(caller(tenant_a), tenant_a, receiver)
        with tenant_transaction(tenant_a):
            state_one, claimed_one = actions.claim(str(one.id))
            state_two, _ = actions.claim(str(two.id))
        assert (state_one, state_two) == (actions.SEND, actions.SEND)
        assert run(three, tenant_a)[0] == "retry"                          # both slots held: busy, back in a moment
        with tenant_transaction(tenant_a):                                  # the first request answered
            actions.record_attempt(str(one.id), claimed_one, at=timezone.now(), status_code=200, latency_ms=3)
        assert run(three, tenant_a) == actions.DONE                         # its slot went to the next one
        with tenant_transaction(tenant_a):
            held = {str(s.delivery_id) for s in SendingSlot.objects.filter(held_until__isnull=False)}
            assert SendingSlot.objects.count() == 2                         # made once, as many as the limit
    assert held == {str(two.id)}                                            # only the request still out
    assert len(receiver.requests) == 1


@pytest.mark.postgres_only  # SQLite serialises writing transactions: there a second claim waits by design
def test_a_claim_passes_over_a_slot_another_claim_is_taking_without_waiting_for_it(settings, caller, tenant_a):
    settings.WEBHOOK_MAX_IN_FLIGHT = 2
    with Receiver() as receiver:
        one, two, three = three_deliveries_to_one_receiver(caller(tenant_a), tenant_a, receiver)
        with tenant_transaction(tenant_a):
            assert actions.claim(str(one.id))[0] == actions.SEND
        taking, finish, seen = threading.Event(), threading.Event(), {}

        def second_claim_left_open():   # its own connection; its transaction holds the free slot's row lock
            try:
                with tenant_transaction(tenant_a):
                    seen["two"] = actions.claim(str(two.id))[0]
                    taking.set()
                    finish.wait(30)
            finally:
                connection.close()

        other = threading.Thread(target=second_claim_left_open)
        other.start()
        try:
            assert taking.wait(30)
            with tenant_transaction(tenant_a):
                with connection.cursor() as cursor:   # a wait for that lock would fail this claim, not pass it
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                state_three, _ = actions.claim(str(three.id))
        finally:
            finish.set()
            other.join(30)
    assert seen["two"] == actions.SEND and state_three == actions.BUSY


def test_ping_and_manual_retry(caller, tenant_a):
    owner = caller(tenant_a)
    with Receiver(status=503) as receiver:
        made = create(owner, receiver.url)
        answer = owner.post(f"/api/v1/webhooks/{made['id']}/ping")
        assert answer.status_code == 202 and answer.json()["event_type"] == "notifications.webhook.ping"
        [ping] = deliveries(tenant_a)
        assert run(ping, tenant_a) == actions.FAILED                        # a ping is tried once
        assert owner.get(f"/api/v1/webhooks/{made['id']}").json()["enabled"] is True  # and disables nothing
        receiver.status = 200
        retried = owner.post(f"/api/v1/webhooks/{made['id']}/deliveries/{ping.id}/retry")
        assert retried.status_code == 202 and retried.json()["status"] == "queued"
        assert run(ping, tenant_a) == actions.DONE
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == str(ping.event_id)
    body = verify(made["secret"], second)
    assert body["type"] == "notifications.webhook.ping" and body["data"]["endpoint_id"] == made["id"]
    log = owner.get(f"/api/v1/webhooks/{made['id']}/deliveries").json()["results"][0]
    assert log["status"] == "done" and [a["status_code"] for a in log["attempt_log"]] == [503, 200]


def test_ping_and_retry_with_an_idempotency_key_send_once_and_replay_the_first_answer(caller, tenant_a):
    owner = caller(tenant_a)
    made = create(owner, "http://127.0.0.1:9/hooks")
    ping = f"/api/v1/webhooks/{made['id']}/ping"
    first = owner.post(ping, HTTP_IDEMPOTENCY_KEY="ping-1")
    again = owner.post(ping, HTTP_IDEMPOTENCY_KEY="ping-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert len(deliveries(tenant_a)) == 1                                    # one ping sent, not two
    # the same key for another request (another endpoint's ping): 422, nothing sent
    other = create(owner, "http://127.0.0.1:9/other")
    clash = owner.post(f"/api/v1/webhooks/{other['id']}/ping", HTTP_IDEMPOTENCY_KEY="ping-1")
    assert clash.status_code == 422 and clash.json()["type"] == "urn:vo2:problem:idempotency-key-reused"
    assert len(deliveries(tenant_a)) == 1
    # another caller's key is theirs; without a key every ping is sent
    assert "Idempotent-Replayed" not in caller(tenant_a, "admin").post(ping, HTTP_IDEMPOTENCY_KEY="ping-1")
    assert owner.post(ping).status_code == 202 and len(deliveries(tenant_a)) == 3

    [delivery] = [d for d in deliveries(tenant_a) if str(d.id) == first.json()["id"]]
    run(delivery, tenant_a)                                                   # refused: the ping failed
    retry = f"/api/v1/webhooks/{made['id']}/deliveries/{delivery.id}/retry"
    retried = owner.post(retry, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    with tenant_transaction(tenant_a):
        generation = Delivery.objects.get(pk=delivery.pk).generation
    replayed = owner.post(retry, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert replayed.status_code == 202 and replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == retried.json()
    with tenant_transaction(tenant_a):
        assert Delivery.objects.get(pk=delivery.pk).generation == generation  # not queued a second time
    assert owner.post(retry, HTTP_IDEMPOTENCY_KEY="ping-1").status_code == 422
    bad = owner.post(retry, HTTP_IDEMPOTENCY_KEY="has space")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "Idempotency-Key"


def test_long_waits_are_queued_by_the_sweep_when_due(settings, caller, tenant_a, monkeypatch):
    settings.WEBHOOK_RETRY_SCHEDULE = [3600.0]
    settings.WEBHOOK_MAX_COUNTDOWN_SECONDS = 600
    owner = caller(tenant_a)
    with Receiver(status=500) as receiver:
        create(owner, receiver.url)
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        [delivery] = deliveries(tenant_a)
        assert run(delivery, tenant_a) == actions.RETRY                     # no countdown: the sweep's
        [due] = RetryDue.objects.all()
        assert str(due.delivery_id) == str(delivery.id) and str(due.tenant_id) == tenant_a
        assert actions.due_for_sweep() == []                                 # not yet
        assert run(delivery, tenant_a) == actions.SKIPPED                    # an early duplicate task
        sent = []
        monkeypatch.setattr(tasks.deliver, "send", lambda *args, **kw: sent.append(args))
        later = timezone.now() + dt.timedelta(hours=2)
        with tenant_transaction(tenant_a):
            Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        RetryDue.objects.update(due_at=timezone.now())
        assert tasks.sweep() == 1 and sent == [(str(delivery.id), tenant_a)]
        assert RetryDue.objects.get().due_at > timezone.now()                # moved on, in case this send is lost
        assert tasks.sweep() == 0                                            # not due again yet
        assert run(delivery, tenant_a) == actions.FAILED
        assert not RetryDue.objects.exists()                                 # finished: no watchdog
        assert later > timezone.now()
    assert len(receiver.requests) == 2


def test_a_delivery_whose_task_was_lost_is_queued_by_the_sweep(settings, caller, tenant_a, monkeypatch):
    """The consumer commits the delivery and its task is sent after the commit; when that send never happens (the
    consumer killed in between, the broker refusing), the watchdog row makes the sweep queue it."""
    settings.WEBHOOK_DISPATCH = "celery"
    owner = caller(tenant_a)
    with Receiver() as receiver:
        create(owner, receiver.url)
        refused = []

        def broker_gone(*args, **kwargs):
            refused.append(args)
            raise ConnectionError("broker gone")

        monkeypatch.setattr(tasks.deliver, "send", broker_gone)
        outcome = EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        assert outcome == "handled" and len(refused) == 1                  # tried after the commit, refused, logged
        [delivery] = deliveries(tenant_a)
        [watchdog] = RetryDue.objects.all()
        assert str(watchdog.delivery_id) == str(delivery.id)
        assert watchdog.due_at == delivery.next_attempt_at + dt.timedelta(seconds=settings.WEBHOOK_PICKUP_GRACE_SECONDS)
        sent = []
        monkeypatch.setattr(tasks.deliver, "send", lambda *args, **kw: sent.append(args))
        assert tasks.sweep() == 0                                            # within its grace: not yet
        RetryDue.objects.update(due_at=timezone.now())
        assert tasks.sweep() == 1 and sent == [(str(delivery.id), tenant_a)]
        assert run(delivery, tenant_a) == actions.DONE
        assert not RetryDue.objects.exists()
        assert run(delivery, tenant_a) == actions.SKIPPED                    # the sweep's copy, late: harmless
    assert len(receiver.requests) == 1


def test_the_delivery_task_is_queued_after_the_commit_not_before(settings, caller, tenant_a, monkeypatch):
    settings.WEBHOOK_DISPATCH = "celery"
    owner = caller(tenant_a)
    create(owner, "http://127.0.0.1:9/hooks")
    seen = []

    def send(delivery_id, tenant_id, **kwargs):  # what the worker would find when the task arrives
        with tenant_transaction(tenant_id):
            seen.append(Delivery.objects.filter(pk=delivery_id).exists())

    monkeypatch.setattr(tasks.deliver, "send", send)
    EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
    assert seen == [True]


def test_an_idempotency_key_creates_one_endpoint(caller, tenant_a):
    owner = caller(tenant_a)
    body = {"url": "http://127.0.0.1:9/hooks", "events": ["reports.*"]}
    first = owner.post("/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = owner.post("/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["secret"] == first.json()["secret"]
    assert first["Location"].endswith(f"/api/v1/webhooks/{first.json()['id']}")
    other = owner.post("/api/v1/webhooks/", {**body, "events": ["*"]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422 and other["Content-Type"] == "application/problem+json"
    assert other.json()["type"] == "urn:vo2:problem:idempotency-key-reused"
    assert len(owner.get("/api/v1/webhooks/").json()["results"]) == 1
