from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from servicekit.pytest_plugin import django_db_setup  # noqa: F401  (PostgreSQL as SaaS runs it, or SQLite)

# identity's secrets for the run are set by tests/environment.py (a plugin: before Django reads the settings)

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    """PBKDF2's production work factor would make the suite slow; the code paths are the same."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock(monkeypatch):
    """Move identity's clock (django.utils.timezone.now, which identity reads for every time it keeps) forward:
    `clock.advance(seconds=...)`."""
    from django.utils import timezone

    real_now = timezone.now

    class Clock:
        offset = timedelta()

        def advance(self, **delta):
            self.offset += timedelta(**delta)

    moved = Clock()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + moved.offset)
    return moved


@pytest.fixture
def make_tenant():
    from identity.accounts.actions import create_tenant

    def make(slug, owner_email=None, password=PASSWORD, **fields):
        return create_tenant(by=None, name=slug.title(), slug=slug, owner_email=owner_email or f"owner@{slug}.test",
                             owner_password=password, **fields)
    return make


@pytest.fixture
def add_member():
    from identity.accounts.actions import add_member as add

    def make(tenant, email, role, password=PASSWORD):
        return add(tenant.id, by=None, email=email, role=role, password=password)
    return make


def login(email, password=PASSWORD, tenant=None):
    body = {"email": email, "password": password}
    if tenant:
        body["tenant"] = tenant
    return APIClient().post("/api/v1/auth/login", body, format="json")


def client_for(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + access)
    return client


@pytest.fixture
def session():
    """Log in and get an APIClient carrying the access token (plus the token pair as `.tokens`)."""
    def make(email, password=PASSWORD, tenant=None):
        response = login(email, password, tenant)
        assert response.status_code == 200, response.content
        client = client_for(response.json()["access"])
        client.tokens = response.json()
        return client
    return make
