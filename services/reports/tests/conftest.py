import uuid

import pytest
from rest_framework.test import APIClient

from servicekit.pytest_plugin import django_db_setup  # noqa: F401  (PostgreSQL as SaaS runs it, or SQLite)


class Caller:
    """A member of a tenant with a role, calling the service with a real signed token."""

    def __init__(self, keys, tenant_id, role, user_id=None):
        self.tenant_id, self.role = tenant_id, role
        self.user_id = user_id or str(uuid.uuid4())
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION="Bearer " + keys.token(sub=self.user_id, tid=tenant_id,
                                                                            roles=[role]))

    def __getattr__(self, name):  # get/post/patch/delete
        return getattr(self.client, name)


@pytest.fixture
def tenant_a():
    return str(uuid.uuid4())


@pytest.fixture
def tenant_b():
    return str(uuid.uuid4())


@pytest.fixture
def caller(signing_keys):
    def make(tenant_id, role="owner", user_id=None):
        return Caller(signing_keys, tenant_id, role, user_id)
    return make


@pytest.fixture(scope="session")
def zan_payload():
    from . import reference

    return reference.zan_ramp()


@pytest.fixture(scope="session")
def upstream():
    from .fake_upstream import FakeUpstream

    server = FakeUpstream()
    yield server
    server.close()


@pytest.fixture
def storage(tmp_path):
    from reports.documents import storage as st

    local = st.LocalReportStorage(tmp_path / "reports")
    st.set_storage(local)
    yield local
    st.set_storage(None)


@pytest.fixture
def measurements(upstream):
    """reports' real client (service token + measurements) pointed at the fake upstream."""
    from reports.documents import clients

    from .fake_upstream import CLIENT_ID, CLIENT_SECRET

    tokens = clients.ServiceTokens(upstream.url, CLIENT_ID, CLIENT_SECRET)
    client = clients.MeasurementsClient(upstream.url, tokens)
    clients.set_measurements(client)
    upstream.fail_with = None
    yield client
    clients.set_measurements(None)
    upstream.fail_with = None


@pytest.fixture(autouse=True)
def _no_broker(settings):
    """Requests are not handed to a Celery broker in tests; tests that check dispatch patch it in."""
    settings.REPORT_DISPATCH = "none"
