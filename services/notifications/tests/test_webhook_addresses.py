"""SSRF rules (SaaS mode): https only, public addresses only (IPv4, IPv6, mapped forms), resolved once and
connected to as resolved, no redirects; refused at creation and at delivery. Local mode allows the lab's network.
Traffic goes to 127.0.0.1 only (other names are answered by a patched resolver)."""
from __future__ import annotations

import socket

import pytest

from servicekit.events import registry
from servicekit.events.consumer import EventConsumer

from notifications.webhooks import actions, addresses
from notifications.webhooks.models import Attempt

from .test_webhooks import create, deliveries, report_ready, run
from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(autouse=True)
def saas_rules(settings):
    settings.WEBHOOK_PUBLIC_ONLY = True
    settings.WEBHOOK_DISPATCH = "none"
    settings.WEBHOOK_RETRY_SCHEDULE = []     # one attempt each


@pytest.fixture
def dns(monkeypatch):
    """Answers for made-up names; every other name resolves for real."""
    answers = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hooks", "https://10.0.0.1/hooks", "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hooks", "https://[::ffff:127.0.0.1]/hooks", "https://[::ffff:10.0.0.1]/hooks",
    "https://localhost/hooks", "https://192.168.1.20/", "https://172.16.0.1/", "https://100.64.0.1/",
    "https://0.0.0.0/", "https://224.0.0.1/", "https://[fe80::1]/", "https://[fc00::1]/", "https://[fd00:ec2::254]/",
    "https://[2002:7f00:1::]/", "https://[64:ff9b::a00:1]/", "https://private.example.test/",
    "http://public.example.test/hooks",
])
def test_saas_rules_refuse_at_creation(caller, tenant_a, dns, url):
    dns.update({"private.example.test": "10.1.2.3", "public.example.test": "93.184.216.34"})
    response = caller(tenant_a).post("/api/v1/webhooks/", {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "url"


def test_every_answer_must_be_public(monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(addresses.Refused, match="127.0.0.1"):
        addresses.resolve("https://mixed.example.test/")


def test_a_public_https_url_is_accepted_and_resolved_once(caller, tenant_a, dns):
    dns["hooks.example.test"] = "93.184.216.34"
    response = caller(tenant_a).post("/api/v1/webhooks/", {"url": "https://hooks.example.test/in", "events": ["*"]},
                                     format="json")
    assert response.status_code == 201
    target = addresses.resolve("https://hooks.example.test:8443/in?x=1")
    assert (target.address, target.host, target.port, target.path) == ("93.184.216.34", "hooks.example.test", 8443,
                                                                        "/in?x=1")


def test_is_public_looks_through_mapped_forms():
    assert addresses.is_public("93.184.216.34") and addresses.is_public("2606:2800:220:1:248:1893:25c8:1946")
    for private in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
                    "::127.0.0.1", "2002:a00:1::", "64:ff9b::7f00:1", "fe80::1", "ff02::1", "::", "100.100.100.200"):
        assert not addresses.is_public(private), private


def test_refused_at_delivery_when_the_name_now_points_inside(caller, tenant_a, dns, settings):
    """Created while the name was public (or while local rules were on): the delivery checks again and sends
    nothing (DNS rebinding: the request would connect only to the address checked)."""
    owner = caller(tenant_a)
    with Receiver() as receiver:
        dns["rebind.example.test"] = "93.184.216.34"
        create(owner, f"https://rebind.example.test:{receiver.port}/hooks")
        settings.WEBHOOK_PUBLIC_ONLY = False
        create(owner, receiver.url)                                          # a plain 127.0.0.1 endpoint
        settings.WEBHOOK_PUBLIC_ONLY = True
        dns["rebind.example.test"] = "127.0.0.1"
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        for delivery in deliveries(tenant_a):
            assert run(delivery, tenant_a) == actions.FAILED
    assert receiver.requests == []
    from servicekit.tenancy import tenant_transaction

    with tenant_transaction(tenant_a):
        errors = sorted(a.error for a in Attempt.objects.all())
    assert len(errors) == 2 and all(e.startswith("refused: ") for e in errors)
    assert any("127.0.0.1" in e for e in errors)


def test_local_rules_connect_to_the_resolved_address_and_follow_no_redirect(caller, tenant_a, dns, settings):
    settings.WEBHOOK_PUBLIC_ONLY = False
    owner = caller(tenant_a)
    with Receiver(status=307) as receiver, Receiver() as elsewhere:
        receiver.headers["Location"] = elsewhere.url
        dns["lims.lab.test"] = "127.0.0.1"
        create(owner, f"http://lims.lab.test:{receiver.port}/hooks?lab=1")
        EventConsumer("notifications", registry.load()).process(report_ready(tenant_a))
        [delivery] = deliveries(tenant_a)
        assert run(delivery, tenant_a) == actions.FAILED                     # a redirect is not a success
    [request] = receiver.requests
    assert request["headers"]["host"] == f"lims.lab.test:{receiver.port}" and request["path"] == "/hooks?lab=1"
    assert elsewhere.requests == []
