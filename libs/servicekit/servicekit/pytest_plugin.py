"""pytest plugin for the Django services' own suites (`-p servicekit.pytest_plugin` in each pytest.ini).

VO2_TEST_DB=postgres (the default) runs the suite against the real PostgreSQL the way SaaS mode runs: a fresh
database owned by an owner role that runs the migrations, while the tests connect as the application role, which
neither owns the tables nor bypasses row-level security. VO2_TEST_DB=sqlite runs the same suite the way local mode
runs. The environment is set when this module is imported, before Django reads its settings.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from . import testing

_service = Path.cwd().name
_db_mode = os.environ.get("VO2_TEST_DB", "postgres")
_tmp = Path(tempfile.mkdtemp(prefix=f"vo2-test-{_service}-"))
_keys = testing.SigningKeys(_tmp / "keys")

os.environ.setdefault("VO2_MODE", "local" if _db_mode == "sqlite" else "saas")
os.environ["VO2_DATA_DIR"] = str(_tmp / "data")
os.environ["JWT_JWKS_URL"] = _keys.jwks_url
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-" + uuid.uuid4().hex)
os.environ.setdefault("BROKER_URL", f"filesystem://")

_PG = None
if _db_mode == "postgres":
    _suffix = uuid.uuid4().hex[:8]
    _PG = {
        "database": f"vo2_test_{_service}_{_suffix}",
        "owner": "vo2_test_owner",
        "app": "vo2_test_app",
        "password": "vo2-test-password",
    }
    os.environ["DATABASE_URL"] = (f"postgresql://{_PG['app']}:{_PG['password']}@127.0.0.1:5432/{_PG['database']}")
    os.environ.setdefault("REDIS_URL", testing.REDIS_URL)


def pytest_report_header(config):
    return f"vo2 test database: {_db_mode}" + (f" ({_PG['database']}, app role {_PG['app']})" if _PG else "")


@pytest.fixture(scope="session")
def django_db_setup(request, django_db_blocker):
    if _PG is None:  # SQLite: pytest-django's own in-memory test database
        yield from _sqlite_setup(request, django_db_blocker)
        return
    testing.need_server("postgres")
    from django.core.management import call_command
    from django.db import connections

    from .pgroles import drop, provision

    provision(testing.POSTGRES_ADMIN_DSN, _PG["database"], _PG["owner"], _PG["app"], _PG["password"], recreate=True)
    with django_db_blocker.unblock():
        conn = connections["default"]
        conn.close()
        conn.settings_dict["USER"] = _PG["owner"]  # migrations run as the owner role
        call_command("migrate", verbosity=0, interactive=False)
        conn.close()
        conn.settings_dict["USER"] = _PG["app"]
    yield
    with django_db_blocker.unblock():
        for c in connections.all():
            c.close()
    drop(testing.POSTGRES_ADMIN_DSN, _PG["database"])


def _sqlite_setup(request, django_db_blocker):
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        state = setup_databases(verbosity=0, interactive=False)
    yield
    with django_db_blocker.unblock():
        teardown_databases(state, verbosity=0)


@pytest.fixture(scope="session")
def signing_keys():
    """The test stand-in for identity's signing key; services verify tokens against its JWKS file."""
    return _keys


@pytest.fixture(autouse=True)
def _fresh_verifier():
    from .jwt import set_verifier

    set_verifier(None)
    yield
    set_verifier(None)


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres_only: proves a PostgreSQL feature (row-level security, COPY); "
                                       "deselected when the suite runs on SQLite for local mode")


def pytest_collection_modifyitems(config, items):
    if _db_mode == "postgres":
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("postgres_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


class Caller:
    """A member of a tenant with a role, calling the service under test with a real signed token."""

    def __init__(self, keys, tenant_id, role, user_id=None):
        from rest_framework.test import APIClient

        self.tenant_id, self.role = tenant_id, role
        self.user_id = user_id or str(uuid.uuid4())
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION="Bearer " + keys.token(sub=self.user_id, tid=tenant_id,
                                                                            roles=[role]))

    def __getattr__(self, name):  # get/post/patch/put/delete
        return getattr(self.client, name)


@pytest.fixture
def tenant_a():
    return str(uuid.uuid4())


@pytest.fixture
def tenant_b():
    return str(uuid.uuid4())


@pytest.fixture
def caller(signing_keys):
    """`caller(tenant_id, role)`: a client acting as a member of that tenant with that role."""
    def make(tenant_id, role="owner", user_id=None):
        return Caller(signing_keys, tenant_id, role, user_id)
    return make
