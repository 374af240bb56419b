"""reports' reads of measurements (the kit's service client and service tokens) against a fake identity +
measurements (real sockets)."""
import uuid

import pytest

from reports.documents import clients
from servicekit import http
from servicekit.service_tokens import ServiceTokenRefused, ServiceTokens, ServiceTokenUnavailable

from .fake_upstream import CLIENT_ID, CLIENT_SECRET


def test_service_token_is_asked_once_per_tenant_and_cached(upstream):
    tokens = ServiceTokens(upstream.url, CLIENT_ID, CLIENT_SECRET)
    before = upstream.token_requests
    t1, t2 = str(uuid.uuid4()), str(uuid.uuid4())
    assert tokens(t1) == tokens(t1)
    assert tokens(t2) != tokens(t1)
    assert upstream.token_requests - before == 2
    assert upstream.tokens[tokens(t1)] == t1


def test_wrong_secret_is_refused_and_no_secret_is_refused_without_a_call(upstream):
    with pytest.raises(ServiceTokenRefused, match="401"):
        ServiceTokens(upstream.url, CLIENT_ID, "wrong")(str(uuid.uuid4()))
    with pytest.raises(ServiceTokenRefused, match="SERVICE_CLIENT_SECRET"):
        ServiceTokens(upstream.url, CLIENT_ID, None)(str(uuid.uuid4()))


def test_measurements_calls_carry_the_tenant_token_and_map_errors(upstream):
    tenant = str(uuid.uuid4())
    tokens = ServiceTokens(upstream.url, CLIENT_ID, CLIENT_SECRET)
    client = clients.Measurements(http.ServiceClient("measurements", upstream.url, tokens=tokens))
    upstream.put(tenant, "/api/v1/tests/abc/", {"id": "abc"})
    assert client.test(tenant, "abc") == {"id": "abc"}
    assert upstream.requests[-1] == (tokens(tenant), "/api/v1/tests/abc/")
    with pytest.raises(http.NotFound):
        client.test(tenant, "other")
    assert client.analysis(tenant, "abc") is None  # optional parts: missing is None
    with pytest.raises(http.NotFound):
        client.test(str(uuid.uuid4()), "abc")  # another tenant's token does not see it
    upstream.fail_with = 500
    try:
        with pytest.raises(http.Unavailable):
            client.test(tenant, "abc")
    finally:
        upstream.fail_with = None


def test_a_rejected_token_is_renewed_once(upstream):
    tenant = str(uuid.uuid4())
    tokens = ServiceTokens(upstream.url, CLIENT_ID, CLIENT_SECRET)
    client = clients.Measurements(http.ServiceClient("measurements", upstream.url, tokens=tokens))
    upstream.put(tenant, "/api/v1/tests/abc/", {"id": "abc"})
    upstream.revoked.add(tokens(tenant))
    assert client.test(tenant, "abc") == {"id": "abc"}


def test_unreachable_upstream_is_unavailable():
    from servicekit.testing import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceTokenUnavailable):
        ServiceTokens(url, CLIENT_ID, CLIENT_SECRET, timeout=1)(str(uuid.uuid4()))
