"""servicekit.plans: the `plan` claim read at the time of the request (read-only from a moment, quotas)."""
import pytest

from servicekit import plans
from servicekit.problems import ProblemError


def claims(**plan):
    return {"plan": {"name": "trial", "read_only_from": None, "quotas": {}, **plan}}


def test_writes_are_refused_from_the_read_only_moment_on_reads_and_auth_stay_open():
    expired = claims(read_only_from=1000)
    assert plans.is_read_only(expired, now=1000) and not plans.is_read_only(expired, now=999)
    with pytest.raises(ProblemError) as refused:
        plans.refuse_writes_when_read_only("POST", "/api/v1/athletes/", expired)
    assert refused.value.status == 402 and refused.value.slug == "plan-expired"
    for method, path in (("GET", "/api/v1/athletes/"), ("HEAD", "/x"), ("POST", "/api/v1/auth/mfa/totp")):
        plans.refuse_writes_when_read_only(method, path, expired)
    for open_plan in ({}, claims(), {"plan": "garbage"}, claims(read_only_from="soon")):
        plans.refuse_writes_when_read_only("DELETE", "/api/v1/athletes/1", open_plan)


def test_a_quota_reached_names_itself_and_none_is_unlimited():
    limited = claims(quotas={"imports_per_month": 2, "members": None, "api_keys": True})
    plans.require_room(limited, "imports_per_month", 1)
    with pytest.raises(ProblemError) as refused:
        plans.require_room(limited, "imports_per_month", 2)
    assert refused.value.status == 403 and refused.value.body()["quota"] == "imports_per_month"
    assert refused.value.body()["type"] == "urn:vo2:problem:plan-limit"
    for name in ("members", "api_keys", "storage_mb"):
        plans.require_room(limited, name, 10 ** 6)  # unlimited, a malformed value, or not said
