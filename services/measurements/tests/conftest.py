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
