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
    config.addinivalue_line("markers", "postgres_only: proves a PostgreSQL or SaaS-mode feature (row-level security, "
                                       "COPY, advisory locks, a broker server to stop); deselected when the suite "
                                       "runs on SQLite for local mode")


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


# ---- checks every Django service runs (the service's tests call these fixtures) ---------------------------------

def _service_package() -> str:
    from django.conf import settings

    return settings.ROOT_URLCONF.split(".")[0]


def tenant_tables() -> list[str]:
    """The tables of the service's own tenant-owned models (those subclassing `servicekit.tenancy.TenantOwned`)."""
    from django.apps import apps

    from .tenancy import TenantOwned

    package = _service_package()
    return sorted({m._meta.db_table for m in apps.get_models()
                   if issubclass(m, TenantOwned) and m.__module__.startswith(package + ".") and m._meta.managed})


@pytest.fixture
def service_runs(db):
    """`service_runs()` proves the plumbing of the service under test and returns its OpenAPI document:
    /healthz alive, /readyz ready with the database checked, /openapi.json served, an unknown path a problem+json
    404. Use: `def test_service_runs(service_runs): paths = service_runs()["paths"]; ...`."""
    def check() -> dict:
        from django.test import Client

        client = Client()
        assert client.get("/healthz").json() == {"status": "alive"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.content
        assert ready.json()["checks"]["database"]["status"] == "ok"
        schema = client.get("/openapi.json")
        assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
        missing = client.get("/api/v1/nothing-here")
        assert missing.status_code == 404
        assert missing["Content-Type"] == "application/problem+json"
        assert missing.json()["type"] == "urn:vo2:problem:not-found"
        return schema.json()
    return check


class RowLevelSecurity:
    """What the RLS tests of every service check at the database, as the application role (PostgreSQL only)."""

    def tables(self) -> list[str]:
        return tenant_tables()

    def assert_application_role(self) -> None:
        """The role the service connects as is no superuser, cannot bypass RLS, and owns none of the tables."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            assert cursor.fetchone() == (False, False)
            cursor.execute("SELECT tablename FROM pg_tables WHERE tableowner = current_user")
            assert cursor.fetchall() == []

    def assert_forced(self, tables: list[str] | None = None) -> None:
        """Every tenant-owned table (default: all of the service's) has RLS enabled AND forced, with a policy."""
        from django.db import connection

        tables = tables or self.tables()
        assert tables, "the service has no tenant-owned tables to check"
        with connection.cursor() as cursor:
            cursor.execute("SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                           "EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) "
                           "FROM pg_class c WHERE c.relname = ANY(%s) ORDER BY c.relname", [tables])
            found = cursor.fetchall()
        assert found == [(t, True, True, True) for t in sorted(tables)], found

    def execute(self, sql: str, params=None, *, tenant_id: str | None = None) -> list[tuple]:
        """Raw SQL (it forgets any tenant filter) in a transaction that sets `tenant_id` for RLS, or no tenant."""
        from django.db import connection, transaction

        from .tenancy import set_database_tenant

        with transaction.atomic():
            if tenant_id:
                set_database_tenant(tenant_id)
            with connection.cursor() as cursor:
                cursor.execute(sql, params or [])
                return cursor.fetchall() if cursor.description else []

    def assert_isolated(self, insert_sql: str, params_for, select_sql: str) -> None:
        """Rows written for two tenants by raw SQL: each tenant's transaction reads only its own, a transaction
        without a tenant reads none, and writing a row for the other tenant is refused by the policy.
        `params_for(tenant_id)` gives the insert's parameters (the tenant id among them); `select_sql` selects
        the tenant column."""
        from django.db.utils import ProgrammingError

        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        for tenant in (a, b):
            self.execute(insert_sql, params_for(tenant), tenant_id=tenant)
        assert [str(r[0]) for r in self.execute(select_sql)] == []
        assert [str(r[0]) for r in self.execute(select_sql, tenant_id=a)] == [a]
        assert [str(r[0]) for r in self.execute(select_sql, tenant_id=b)] == [b]
        with pytest.raises(ProgrammingError, match="row-level security"):
            self.execute(insert_sql, params_for(b), tenant_id=a)


@pytest.fixture
def rls(transactional_db):
    """`rls.assert_application_role()`, `rls.assert_forced()`, `rls.assert_isolated(...)`, `rls.execute(...)`.
    Mark the test `postgres_only` (row-level security is PostgreSQL's)."""
    return RowLevelSecurity()


@pytest.fixture(scope="session")
def s3_server():
    """An S3-compatible server (moto in server mode, its own process over HTTP) for the whole session."""
    from .testing import S3Server

    with S3Server() as server:
        yield server
