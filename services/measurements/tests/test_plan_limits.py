"""The tenant's plan as the access token carries it (identity's `plan` claim, servicekit.plans): the month's import
quota is enforced here, where imports are counted; a read-only tenant's writes are 402, its reads still work."""
import time

import pytest
from rest_framework.test import APIClient

from measurements.imports.models import Import

from .conftest import ATHLETE, db_count, upload

pytestmark = pytest.mark.django_db(transaction=True)


def client(signing_keys, tenant, **plan):
    api = APIClient()
    token = signing_keys.token(tid=tenant, roles=["owner"], plan={"name": "trial", "read_only_from": None,
                                                                  "quotas": {}, **plan})
    api.credentials(HTTP_AUTHORIZATION="Bearer " + token)
    return api


def test_the_months_import_quota_answers_403_naming_it_and_stores_nothing(signing_keys, tenant_a):
    owner = client(signing_keys, tenant_a, quotas={"imports_per_month": 1})
    athlete = owner.post("/api/v1/athletes/", ATHLETE, format="json").json()
    first = upload(owner, athlete["id"], ("a.csv", b"time_s,vo2\n0,1\n"))
    assert first.status_code == 202, first.content
    refused = upload(owner, athlete["id"], ("b.csv", b"time_s,vo2\n0,1\n"))
    assert refused.status_code == 403, refused.content
    assert refused.json()["type"] == "urn:vo2:problem:plan-limit" and refused.json()["quota"] == "imports_per_month"
    assert db_count(tenant_a, Import) == 1
    unlimited = client(signing_keys, tenant_a, quotas={"imports_per_month": None})
    assert upload(unlimited, athlete["id"], ("c.csv", b"time_s,vo2\n0,1\n")).status_code == 202


def test_a_read_only_tenant_reads_but_does_not_write(signing_keys, tenant_a):
    writable = client(signing_keys, tenant_a)
    athlete = writable.post("/api/v1/athletes/", ATHLETE, format="json").json()
    expired = client(signing_keys, tenant_a, read_only_from=int(time.time()) - 1)
    assert expired.get(f"/api/v1/athletes/{athlete['id']}").status_code == 200
    assert expired.get("/api/v1/athletes/").status_code == 200
    for answer in (expired.post("/api/v1/athletes/", ATHLETE, format="json"),
                   expired.patch(f"/api/v1/athletes/{athlete['id']}", {"sport": "cycling"}, format="json"),
                   expired.delete(f"/api/v1/athletes/{athlete['id']}")):
        assert answer.status_code == 402, answer.content
        assert answer.json()["type"] == "urn:vo2:problem:plan-expired"
    assert writable.get(f"/api/v1/athletes/{athlete['id']}").json()["sport"] == "running"  # nothing deleted
    later = client(signing_keys, tenant_a, read_only_from=int(time.time()) + 3600)  # not yet
    assert later.patch(f"/api/v1/athletes/{athlete['id']}", {"sport": "cycling"}, format="json").status_code == 200


def test_the_storage_quota_counts_the_uploaded_files(signing_keys, tenant_a):
    owner = client(signing_keys, tenant_a, quotas={"storage_mb": 1})
    athlete = owner.post("/api/v1/athletes/", ATHLETE, format="json").json()
    half = b"time_s,vo2\n" + b"0,1\n" * (2 ** 19 // 4)  # 0.5 MiB
    assert upload(owner, athlete["id"], ("a.csv", half)).status_code == 202
    assert upload(owner, athlete["id"], ("b.csv", half[: 2 ** 18])).status_code == 202  # 0.75 MiB in all
    refused = upload(owner, athlete["id"], ("c.csv", half))
    assert refused.status_code == 403 and refused.json()["quota"] == "storage_mb", refused.content
    assert db_count(tenant_a, Import) == 2
