"""End-to-end: the whole system started as `./vo2 up` starts it, in local mode and in SaaS mode, spoken to only
through the gateway over HTTP with real tokens."""
from __future__ import annotations

import uuid

import httpx
import pytest

from launcher.system import PORTS, SaasServers, System
from servicekit import testing
from servicekit.pgroles import drop

OWNER_EMAIL, OWNER_PASSWORD = "owner@first.lab", "first-lab-owner-pw-1"


class Mailbox:
    """A real SMTP server (aiosmtpd) the system sends its e-mail to."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        self.port = testing.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "subject": str(message["subject"]),
                              "body": message.get_body(preferencelist=("plain",)).get_content(),
                              "message_id": str(message["message-id"])})
        return "250 OK"

    def count(self, recipient: str) -> int:
        return sum(recipient in m["to"] for m in self.messages)

    def wait_for(self, recipient: str, timeout: float = 30.0, after: int = 0) -> list[dict]:
        """Every e-mail to the recipient, once there are more than `after` (what `count` said before the action that
        sends one: the same address can have mail from the other mode's run of the same test)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if recipient in m["to"]]
            if len(found) > after:
                time.sleep(0.5)  # a duplicate would arrive right behind
                return [m for m in self.messages if recipient in m["to"]]
            time.sleep(0.1)
        raise AssertionError(f"no e-mail to {recipient} within {timeout} s")


def pytest_collection_modifyitems(config, items):
    """A test marked `saas` proves something only SaaS mode has (a broker server): not run against local mode."""
    dropped = [item for item in items if item.get_closest_marker("saas")
               and getattr(item, "callspec", None) and item.callspec.params.get("system") == "local"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def mailbox():
    box = Mailbox()
    yield box
    box.controller.stop()


@pytest.fixture(scope="session")
def traces():
    """Every process of every system exports its spans here (OTLP over HTTP, as to a collector)."""
    receiver = testing.OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session", params=["local", "saas"])
def system(request, tmp_path_factory, mailbox, traces):
    mode = request.param
    extra_env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(mailbox.port), "EMAIL_USE_TLS": "false",
                 "SSO_PRIVATE_ISSUER_HOSTS": "127.0.0.1",  # the test OpenID provider (test_sso_and_passwords.py)
                 # tracing on, exported to the test's receiver soon after each span ends
                 "OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    saas = s3 = vhost = None
    if mode == "saas":
        for server in ("postgres", "rabbitmq", "redis"):
            testing.need_server(server)
        # a vhost of the run's own: the services' queues have fixed names, so another run on the same broker
        # would otherwise take this run's jobs and events (VO2_TEST_AMQP: a broker of the run's own, used as given)
        vhost = testing.RabbitMQVhost("vo2e2e").create()
        saas = SaasServers(database_prefix=f"vo2e2e_{uuid.uuid4().hex[:6]}", redis_url="redis://127.0.0.1:6379/14",
                           broker_url=vhost.url)
        # SaaS keeps uploads and report files in an S3-compatible bucket (moto in server mode, its own process)
        s3 = testing.S3Server().start()
        bucket = s3.make_bucket(f"vo2e2e-{uuid.uuid4().hex[:8]}")
        extra_env.update({**s3.env, "FILE_STORAGE": "s3", "REPORT_STORAGE": "s3", "S3_BUCKET": bucket,
                          "S3_SSE": "AES256"})
    ports = {name: testing.free_port() for name in PORTS}
    extra_env["PUBLIC_APP_URL"] = f"http://127.0.0.1:{ports['gateway']}"
    system = System(mode=mode, data_dir=tmp_path_factory.mktemp(f"system-{mode}"), ports=ports, saas=saas,
                    metrics_ports="free",
                    extra_env={"RATE_LIMIT_IP": "100000", "RATE_LIMIT_USER": "100000", "RATE_LIMIT_TENANT": "100000",
                               "RATE_LIMIT_LOGIN_IP": "100000", "ACCESS_TOKEN_MINUTES": "15",
                               "API_KEY_CACHE_S": "5",
                               # webhooks to receivers the tests start on 127.0.0.1, retried quickly
                               "WEBHOOK_PUBLIC_ONLY": "false", "WEBHOOK_RETRY_SCHEDULE": "0.5,0.5",
                               "WEBHOOK_TIMEOUT_SECONDS": "5", **extra_env})  # revocation shows within 5 s here
    system.prepare()
    system.manage("identity", "bootstrap", "--tenant-name", "First Lab", "--slug", "first-lab",
                  "--email", OWNER_EMAIL, "--password", OWNER_PASSWORD, capture=True)
    try:
        system.start()
    except Exception:
        system.stop()
        if s3:
            s3.stop()
        if vhost:
            vhost.delete()
        for log in sorted(system.log_dir.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        raise
    system.s3 = s3
    yield system
    system.stop()
    if s3:
        s3.stop()
    if vhost:
        vhost.delete()
    if saas:
        from servicekit.testing import POSTGRES_ADMIN_DSN

        for service in ("identity", "measurements", "reports", "notifications"):
            drop(POSTGRES_ADMIN_DSN, f"{saas.database_prefix}_{service}")


class Api:
    """A client of the public API: base URL of the gateway, bearer token when logged in."""

    def __init__(self, base: str, token: str | None = None):
        self.base, self.token = base, token
        self.http = httpx.Client(base_url=base, timeout=30.0)
        self.credentials = None

    def _send(self, method, path, **kw):
        extra = kw.pop("headers", None)
        response = self.http.request(method, path, headers=self.headers(extra), **kw)
        if response.status_code == 401 and self.credentials and "expired" in response.text:
            self.login(*self.credentials)  # a long session outlives an access token, as a real client's does
            response = self.http.request(method, path, headers=self.headers(extra), **kw)
        return response

    def headers(self, extra=None):
        h = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**h, **(extra or {})}

    def get(self, path, **kw):
        return self._send("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self._send("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self._send("PATCH", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self._send("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self._send("DELETE", path, **kw)

    def login(self, email, password, tenant=None) -> dict:
        body = {"email": email, "password": password, **({"tenant": tenant} if tenant else {})}
        response = self.http.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        tokens = response.json()
        self.token = tokens["access"]
        self.credentials = (email, password, tenant)
        return tokens


def join_by_invitation(owner: "Api", mailbox: Mailbox, email: str, role: str, password: str,
                       full_name: str = "") -> tuple["Api", str]:
    """Someone joins the owner's tenant the only way there is: the owner adds the e-mail (an invitation), the person
    accepts with the token from the e-mail. Returns the newcomer logged in for that tenant and their member id."""
    import re

    seen = mailbox.count(email)
    invited = owner.post("/api/v1/tenants/current/members/", {"email": email, "role": role})
    assert invited.status_code == 202, invited.text
    token = re.search(r"token=([A-Za-z0-9_\-]+)", mailbox.wait_for(email, after=seen)[-1]["body"]).group(1)
    newcomer = Api(owner.base)
    accepted = newcomer.http.post("/api/v1/auth/invitations/accept",
                                  json={"token": token, "password": password, "full_name": full_name})
    assert accepted.status_code == 201, accepted.text
    newcomer.token = accepted.json()["access"]
    (member,) = owner.get("/api/v1/tenants/current/members/", params={"email": email}).json()["results"]
    return newcomer, member["id"]


@pytest.fixture(scope="session")
def gateway(system) -> str:
    return system.url("gateway")


@pytest.fixture
def anonymous(gateway) -> Api:
    return Api(gateway)


@pytest.fixture(scope="session")
def owner(system) -> Api:
    api = Api(system.url("gateway"))
    api.login(OWNER_EMAIL, OWNER_PASSWORD)
    return api


def new_lab(system, name: str, slug: str, operator_email: str, operator_password: str) -> Api:
    """The owner (owner@<slug without -lab>.lab) of a new organisation that this platform operator creates."""
    system.manage("identity", "create_operator", "--email", operator_email, "--password", operator_password,
                  capture=True)
    operator = Api(system.url("gateway"))
    operator.login(operator_email, operator_password)
    owner_email, owner_password = f"owner@{slug.replace('-lab', '')}.lab", f"{slug}-owner-pw-1"
    created = operator.post("/api/v1/tenants/", {"name": name, "slug": slug,
                                                 "owner": {"email": owner_email, "password": owner_password}})
    assert created.status_code == 201, created.text
    api = Api(system.url("gateway"))
    api.login(owner_email, owner_password)
    return api


@pytest.fixture(scope="session")
def second_lab(system) -> Api:
    """The owner of another organisation, created by the platform operator."""
    return new_lab(system, "Second Lab", "second-lab", "operator@vo2.platform", "platform-operator-pw-1")
