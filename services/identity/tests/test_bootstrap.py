import io
import re

import pytest
from django.core.management import call_command

from .conftest import login

pytestmark = pytest.mark.django_db(transaction=True)


def bootstrap(*extra):
    out = io.StringIO()
    call_command("bootstrap", "--tenant-name", "Sports Lab", "--slug", "sports-lab", "--email", "Head@Lab.test",
                 *extra, stdout=out)
    return out.getvalue()


def test_bootstrap_creates_the_first_tenant_and_owner_once_and_prints_the_password_once():
    from identity.accounts.models import User
    from identity.tenants.models import Tenant
    from identity.tokens.models import SigningKey

    first = bootstrap()
    password = re.search(r"Password \(shown once.*\): (\S+)", first).group(1)
    assert "head@lab.test" in first
    response = login("head@lab.test", password)
    assert response.status_code == 200
    assert SigningKey.objects.filter(state="active").count() == 1
    tenant = Tenant.objects.get()
    assert tenant.slug == "sports-lab" and tenant.name == "Sports Lab"

    second = bootstrap("--password", "another-password-1")
    assert "set up already" in second and password not in second
    assert Tenant.objects.count() == 1 and User.objects.count() == 1
    assert login("head@lab.test", "another-password-1").status_code == 401
    assert login("head@lab.test", password).status_code == 200


def test_bootstrap_with_a_given_password_and_an_operator():
    out = bootstrap("--password", "chosen-password-1", "--operator")
    assert "chosen-password-1" not in out
    import jwt

    claims = jwt.decode(login("head@lab.test", "chosen-password-1").json()["access"],
                        options={"verify_signature": False})
    assert sorted(claims["roles"]) == ["operator", "owner"]


def test_bootstrap_refuses_a_weak_password():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        bootstrap("--password", "123")
