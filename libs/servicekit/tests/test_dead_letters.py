"""Forgetting an erased subject's dead letters (servicekit.events.deadletters.forget, used by
servicekit.erasure.forget_events), on RabbitMQ and on the filesystem transport: the tenant's dead letters that name
the subject go, the erasure's own events and everything else stay (put back, readable and replayable as before)."""
from __future__ import annotations

import json
import uuid

import pytest

from servicekit import testing
from servicekit.events import broker, deadletters


@pytest.fixture(params=["filesystem", "rabbitmq"])
def bus(request, tmp_path, monkeypatch):
    """A broker and a service name of the test's own (its dead-letter queue is `<name>.events.dlq`)."""
    if request.param == "rabbitmq":
        testing.need_server("rabbitmq")
        url = testing.RABBITMQ_URL
    else:
        monkeypatch.setenv("VO2_BROKER_DIR", str(tmp_path / "broker"))
        url = "filesystem://"
    service = f"t{uuid.uuid4().hex[:10]}"
    yield url, service
    if request.param == "rabbitmq":
        with broker.connection(url) as conn:
            conn.channel().queue_delete(broker.dead_letter_queue_name(service))


def dead_letter(url, service, event_type, data, tenant_id) -> str:
    """An event as the consumer gives it up: published to the dead-letter exchange with the service's key (the
    envelope's shape; the payloads need not satisfy their contracts here, forgetting reads none of them)."""
    env = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/test", "type": event_type,
           "datacontenttype": "application/json", "tenantid": tenant_id, "data": data}
    publisher = broker.Publisher(url)
    try:
        publisher.publish_batch([broker.Outgoing(env["id"], event_type, json.dumps(env), tenant_id,
                                                 routing_key=service, exchange=broker.DLX_NAME)])
    finally:
        publisher.close()
    return env["id"]


def test_an_erased_subjects_dead_letters_are_forgotten_and_the_rest_stay(bus):
    url, service = bus
    deadletters.list_dead_letters(service, url=url)  # the queue exists before anything dies into it
    tenant, other_tenant = str(uuid.uuid4()), str(uuid.uuid4())
    athlete, test_id, other_test = (str(uuid.uuid4()) for _ in range(3))
    gone = [dead_letter(url, service, "measurements.test.imported",
                        {"test_id": test_id, "athlete_id": athlete, "athlete_name": "Anna Ivanova"}, tenant),
            dead_letter(url, service, "reports.report.ready", {"report_id": str(uuid.uuid4()), "test_id": test_id},
                        tenant)]
    stay = [dead_letter(url, service, "measurements.test.imported",  # same ids, another tenant
                        {"test_id": test_id, "athlete_id": athlete, "athlete_name": "Other Lab"}, other_tenant),
            dead_letter(url, service, "measurements.test.analyzed",  # another test of the tenant
                        {"test_id": other_test, "athlete_id": str(uuid.uuid4())}, tenant),
            dead_letter(url, service, "measurements.athlete.deleted",  # the erasure's own request: ids only
                        {"athlete_id": athlete, "test_ids": [test_id]}, tenant),
            dead_letter(url, service, "reports.deletion.confirmed",
                        {"scope": "athlete", "subject_id": athlete, "removed": {}}, tenant)]
    assert sorted(d.event_id for d in deadletters.list_dead_letters(service, url=url)) == sorted(gone + stay)

    forgotten = deadletters.forget(service, tenant_id=tenant, ids=[athlete, test_id], url=url)
    assert sorted(d.event_id for d in forgotten) == sorted(gone)
    left = deadletters.list_dead_letters(service, url=url)
    assert sorted(d.event_id for d in left) == sorted(stay)
    assert not [d for d in left if "Anna Ivanova" in d.body]
    # idempotent: nothing more to forget; nothing named: nothing looked at
    assert deadletters.forget(service, tenant_id=tenant, ids=[athlete, test_id], url=url) == []
    assert deadletters.forget(service, tenant_id=tenant, ids=[], url=url) == []
    # the ones kept are still replayable (the queue is intact, each message once)
    assert sorted(deadletters.replay(service, url=url)) == sorted(stay)
    assert deadletters.list_dead_letters(service, url=url) == []
    with broker.connection(url) as conn:  # the replayed copies went to the service's own queue
        conn.channel().queue_delete(broker.queue_name(service))


def test_a_tenants_dead_letters_all_go_with_the_tenant(bus):
    """erase_tenant(dead_letters=...) names the tenant itself: every envelope of the tenant names it."""
    url, service = bus
    deadletters.list_dead_letters(service, url=url)
    tenant, other_tenant = str(uuid.uuid4()), str(uuid.uuid4())
    gone = [dead_letter(url, service, "identity.user.created", {"user_id": str(uuid.uuid4()), "email": "a@lab.example"},
                        tenant),
            dead_letter(url, service, "reports.report.ready", {"report_id": str(uuid.uuid4())}, tenant)]
    stay = [dead_letter(url, service, "identity.user.created", {"user_id": str(uuid.uuid4())}, other_tenant),
            dead_letter(url, service, "identity.tenant.deleted", {"tenant_id": tenant}, tenant)]
    assert sorted(d.event_id for d in deadletters.forget(service, tenant_id=tenant, ids=[tenant], url=url)) == \
        sorted(gone)
    assert sorted(d.event_id for d in deadletters.list_dead_letters(service, url=url)) == sorted(stay)
