
import pytest

from servicekit.pytest_plugin import django_db_setup  # noqa: F401  (PostgreSQL as SaaS runs it, or SQLite)


# `caller`, `tenant_a`, `tenant_b` come from servicekit.pytest_plugin.


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
    from servicekit import storage as st

    local = st.LocalStorage(tmp_path / "reports")
    st.override("REPORTS_DIR", local)
    yield local
    st.override("REPORTS_DIR", None)


@pytest.fixture
def measurements(upstream):
    """reports' real client (service token + measurements) pointed at the fake upstream."""
    from reports.documents import clients
    from servicekit import http, service_tokens

    from .fake_upstream import CLIENT_ID, CLIENT_SECRET

    tokens = service_tokens.ServiceTokens(upstream.url, CLIENT_ID, CLIENT_SECRET)
    client = clients.Measurements(http.ServiceClient("measurements", upstream.url, tokens=tokens))
    clients.set_measurements(client)
    clients.set_identity(clients.Identity(http.ServiceClient("identity", upstream.url, tokens=tokens)))
    upstream.fail_with = None
    yield client
    clients.set_measurements(None)
    clients.set_identity(None)
    upstream.fail_with = None


@pytest.fixture(autouse=True)
def _no_broker(settings):
    """Requests are not handed to a Celery broker in tests; tests that check dispatch patch it in."""
    settings.REPORT_DISPATCH = "none"
