"""Nothing lost, nothing twice: a burst of report-ready events goes outbox → relay → broker → consumer → Celery
worker → a webhook receiver on 127.0.0.1, all real processes, while one part is killed (relay, consumer: SIGKILL)
or the broker is stopped and started again. Every accepted event reaches the receiver (Standard Webhooks: receivers
dedupe on `webhook-id`, so a repeated id counts once), each has exactly one delivery row (done) and one in-app
notification.

SaaS (the PostgreSQL run): the broker is a private RabbitMQ node (servicekit.testing.PrivateRabbitMQ): the shared
one is never stopped, and the burst's events reach no other system's queues; one node serves the module (starting
one takes 5–40 s). Local mode (the SQLite run): the kit's filesystem broker, as a lab's computer runs it; it is a
folder, so there is no broker to stop there (that test is for the RabbitMQ run only)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from django.conf import settings

from servicekit import testing
from servicekit.events import publish
from servicekit.principal import Principal
from servicekit.tenancy import tenant_transaction

from notifications.inapp.models import Notification
from notifications.webhooks import actions
from notifications.webhooks.models import Delivery

from .conftest import SERVICE_DIR, process_env, wait_for
from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)
BURST = 30
LOCAL = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")  # the local-mode run of the suite


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    if LOCAL:
        yield None
        return
    node = testing.PrivateRabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    try:
        node.start()
    except FileNotFoundError:
        pytest.fail("rabbitmq-server is needed for the broker kill proof (apt: rabbitmq-server)", pytrace=False)
    yield node
    node.stop()


class Parts:
    """The relay, consumer and worker processes of one test, their logs in files (a full pipe would stall them)."""

    def __init__(self, rabbit, tmp_path):
        self.name = f"k{uuid.uuid4().hex[:8]}"
        self.tmp = tmp_path
        self.env = process_env(BROKER_URL=rabbit.url if rabbit else "filesystem://", NOTIFICATIONS_QUEUE=f"{self.name}.tasks",
                               WEBHOOK_PUBLIC_ONLY="false", WEBHOOK_DISPATCH="celery",
                               WEBHOOK_PICKUP_GRACE_SECONDS="3", WEBHOOK_SWEEP_SECONDS="1",
                               WEBHOOK_RETRY_SCHEDULE="1,1,1,1,1",
                               EVENTS_RELAY_MAX_BACKOFF_SECONDS="1", LOG_LEVEL="INFO")
        self.procs: dict[str, subprocess.Popen] = {}

    def argv(self, part):
        return {"relay": [sys.executable, "manage.py", "run_relay"],
                "consumer": [sys.executable, "manage.py", "run_consumer", "--name", self.name],
                "worker": [sys.executable, "-m", "celery", "-A", "notifications.celery", "worker", "-Q",
                           f"{self.name}.tasks", "-n", f"{self.name}@%h", "--without-mingle",
                           "--without-gossip", "-l", "INFO"],
                # the service's one beat sends the sweep (the pickup watchdog) every WEBHOOK_SWEEP_SECONDS
                "beat": [sys.executable, "-m", "celery", "-A", "notifications.celery", "beat", "--pidfile=",
                         "-s", str(self.tmp / "beat-schedule"), "-l", "INFO"]}[part]

    def log(self, part):
        return self.tmp / f"{part}.log"

    def start(self, part, ready: str | None = None):
        start = self.log(part).stat().st_size if self.log(part).exists() else 0
        out = open(self.log(part), "ab")
        self.procs[part] = subprocess.Popen(self.argv(part), cwd=SERVICE_DIR, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        if ready:
            wait_for(lambda: ready in self.log(part).read_bytes()[start:].decode(errors="replace")
                     or self.procs[part].poll() is not None, timeout=90, what=f"{part} ready")
            assert self.procs[part].poll() is None, self.log(part).read_text()[-3000:]

    def kill(self, part):
        os.killpg(self.procs[part].pid, signal.SIGKILL)
        self.procs[part].wait(10)

    def stop_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def logs(self):
        return "\n".join(f"--- {p}\n" + self.log(p).read_text(errors="replace")[-2500:] for p in self.procs)


@pytest.fixture
def parts(rabbit, tmp_path):
    made = Parts(rabbit, tmp_path)
    yield made
    made.stop_all()


def burst(tenant, user, n=BURST):
    """n report-ready events written to the outbox, each committed on its own, as reports would; their ids."""
    made = []
    for _ in range(n):
        data = {"report_id": str(uuid.uuid4()), "test_id": str(uuid.uuid4()), "athlete_id": str(uuid.uuid4()),
                "language": "en", "requested_by": user}
        with tenant_transaction(tenant):
            made.append(publish("reports.report.ready", data, tenant_id=tenant))
    return made


def received_ids(receiver):
    with receiver.lock:
        return [r["headers"]["webhook-id"] for r in receiver.requests]


def missing(tenant, accepted, receiver):
    """What a timed-out wait lacked, and where each missing event's delivery stands (the failure's first clue)."""
    absent = set(accepted) - set(received_ids(receiver))
    with tenant_transaction(tenant):
        rows = Counter(f"{d.status}/{d.stage}" for d in Delivery.objects.filter(event_id__in=absent))
    return f"{len(absent)} of {len(accepted)} not received; their deliveries: {dict(rows) or 'none'}"


def assert_once_each(tenant, accepted, receiver, parts):
    wait_for(lambda: set(accepted) <= set(received_ids(receiver)), timeout=120,
             what=lambda: f"every event at the receiver ({missing(tenant, accepted, receiver)})\n{parts.logs()}")
    time.sleep(1.0)  # anything late would be a repeat
    got = Counter(received_ids(receiver))
    assert set(got) == set(accepted)                                        # each event, and nothing else
    with tenant_transaction(tenant):
        deliveries = Counter(str(d.event_id) for d in Delivery.objects.filter(status="done"))
        notified = Counter(str(n.event_id) for n in Notification.objects.filter(kind="report.ready"))
        assert Delivery.objects.exclude(status="done").count() == 0
    assert deliveries == Counter(accepted) and notified == Counter(accepted)  # one delivery, one notification each
    # a repeat at the receiver carries the same webhook-id (the receiver's de-dup absorbs it); count them for the log
    return sum(c - 1 for c in got.values())


@pytest.fixture
def lab(tenant_a):
    owner = str(uuid.uuid4())
    receiver = Receiver().__enter__()
    with tenant_transaction(tenant_a):
        actions.create_endpoint(Principal(owner, tenant_a, frozenset({"owner"})), url=receiver.url,
                                events=["reports.report.ready"])
    yield tenant_a, owner, receiver
    receiver.__exit__()


def test_the_relay_killed_during_a_burst(parts, lab):
    tenant, user, receiver = lab
    parts.start("worker", " ready.")
    parts.start("beat", "beat: Starting")
    parts.start("consumer", "consuming ")
    accepted = burst(tenant, user)
    parts.start("relay")
    wait_for(lambda: len(received_ids(receiver)) >= 3, timeout=90, what=lambda: f"the first deliveries\n{parts.logs()}")
    parts.kill("relay")                                                      # mid-burst, perhaps mid-batch
    more = burst(tenant, user, 10)                                           # accepted while no relay runs
    parts.start("relay")
    repeats = assert_once_each(tenant, accepted + more, receiver, parts)
    print(f"relay killed: {len(accepted) + len(more)} events, {repeats} repeated webhook-ids")


def test_the_consumer_killed_during_a_burst(parts, lab):
    tenant, user, receiver = lab
    parts.start("worker", " ready.")
    parts.start("beat", "beat: Starting")
    parts.start("consumer", "consuming ")
    parts.start("relay")
    accepted = burst(tenant, user)
    wait_for(lambda: len(received_ids(receiver)) >= 3, timeout=90, what=lambda: f"the first deliveries\n{parts.logs()}")
    parts.kill("consumer")                                                   # mid-event, perhaps after its commit
    more = burst(tenant, user, 10)
    parts.start("consumer", "consuming ")
    repeats = assert_once_each(tenant, accepted + more, receiver, parts)
    print(f"consumer killed: {len(accepted) + len(more)} events, {repeats} repeated webhook-ids")


@pytest.mark.postgres_only  # SaaS mode only: local mode's broker is a folder, there is no server to stop
def test_the_broker_stopped_during_a_burst(parts, lab, rabbit):
    tenant, user, receiver = lab
    parts.start("worker", " ready.")
    parts.start("beat", "beat: Starting")
    parts.start("consumer", "consuming ")
    parts.start("relay")
    accepted = burst(tenant, user)
    wait_for(lambda: len(received_ids(receiver)) >= 3, timeout=90, what=lambda: f"the first deliveries\n{parts.logs()}")
    rabbit.stop()                                                            # the private node, never the shared one
    more = burst(tenant, user, 10)                                           # committed while the broker is down
    rabbit.start()
    repeats = assert_once_each(tenant, accepted + more, receiver, parts)
    print(f"broker stopped: {len(accepted) + len(more)} events, {repeats} repeated webhook-ids")
