"""Tenant and role matrix over every route: another tenant → 404 (never 403), a forbidden role → 403, problem+json."""
import pytest

from .conftest import CPET, upload

pytestmark = pytest.mark.django_db(transaction=True)

OVERRIDE = {"overrides": {"vt1": {"time_s": 600}}}
STEPS = [{"intensity": 50, "lactate": 1.0}, {"intensity": 100, "lactate": 1.5}, {"intensity": 150, "lactate": 3.5}]


@pytest.fixture
def world(caller, tenant_a, athlete, pipeline):
    owner = caller(tenant_a)
    imp = upload(owner, athlete["id"], CPET / "spiro" / "cortex.xml").json()
    imp = owner.get(f"/api/v1/imports/{imp['id']}").json()
    assert imp["status"] == "done"
    return {"athlete": athlete["id"], "test": imp["test"], "import": imp["id"]}


def detail_routes(w):
    """(method, url, body, writes?) for every route that names an object of tenant A."""
    t, i, a = w["test"], w["import"], w["athlete"]
    return [
        ("get", f"/api/v1/tests/{t}/", None, False),
        ("patch", f"/api/v1/tests/{t}/", {"notes": "x"}, True),
        ("put", f"/api/v1/tests/{t}/", {"athlete": a, "date": "2026-01-01", "modality": "running"}, True),
        ("get", f"/api/v1/tests/{t}/samples", None, False),
        ("get", f"/api/v1/tests/{t}/samples?format=csv", None, False),
        ("get", f"/api/v1/tests/{t}/lactate-steps", None, False),
        ("post", f"/api/v1/tests/{t}/lactate-steps", STEPS, True),
        ("get", f"/api/v1/tests/{t}/analysis", None, False),
        ("patch", f"/api/v1/tests/{t}/analysis", OVERRIDE, True),
        ("get", f"/api/v1/tests/{t}/analysis/versions", None, False),
        ("post", f"/api/v1/tests/{t}/heart-rate", {"offset_s": 0}, True),
        ("get", f"/api/v1/imports/{i}", None, False),
        ("post", f"/api/v1/imports/{i}/rerun", None, True),
        ("get", f"/api/v1/athletes/{a}/progress", None, False),
        ("delete", f"/api/v1/tests/{t}/", None, True),
    ]


def call(client, method, url, body):
    return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)


def test_another_tenant_gets_404_on_every_route_and_learns_nothing(caller, world, tenant_a, tenant_b):
    for role in ("owner", "physiologist", "viewer"):
        intruder = caller(tenant_b, role)
        for method, url, body, writes in detail_routes(world):
            response = call(intruder, method, url, body)
            expected = 403 if writes and role == "viewer" else 404
            assert response.status_code == expected, (role, method, url, response.content)
            assert response["Content-Type"] == "application/problem+json", url
        assert intruder.get("/api/v1/tests/").json()["results"] == []
        assert intruder.get("/api/v1/imports/").json()["results"] == []
        assert intruder.get(f"/api/v1/tests/?athlete={world['athlete']}").json()["results"] == []
    owner_b = caller(tenant_b)
    response = owner_b.post("/api/v1/tests/", {"athlete": world["athlete"], "date": "2026-01-01"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "athlete"
    response = upload(owner_b, world["athlete"], CPET / "spiro" / "cortex.xml")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "athlete"
    # tenant A's objects are untouched
    owner_a = caller(tenant_a)
    assert owner_a.get(f"/api/v1/tests/{world['test']}/").json()["notes"] == ""
    assert owner_a.get(f"/api/v1/tests/{world['test']}/analysis").json()["version"] == 1


@pytest.mark.parametrize("role", ["viewer", "athlete"])
def test_readers_may_not_write_anywhere(caller, world, tenant_a, role, directory):
    reader = caller(tenant_a, role)
    if role == "athlete":  # linked to the athlete, so reads succeed and only the role decides writes
        directory.add(reader)
        caller(tenant_a).patch(f"/api/v1/athletes/{world['athlete']}/", {"user_id": reader.user_id}, format="json")
    for method, url, body, writes in detail_routes(world):
        response = call(reader, method, url, body)
        assert response.status_code == (403 if writes else 200), (role, method, url, response.content)
    assert reader.post("/api/v1/tests/", {"athlete": world["athlete"], "date": "2026-01-01"},
                       format="json").status_code == 403
    response = upload(reader, world["athlete"], CPET / "spiro" / "cortex.xml")
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"
    assert len(reader.get("/api/v1/tests/").json()["results"]) == 1


def test_athlete_role_sees_only_the_tests_of_their_own_record(caller, world, tenant_a):
    someone_else = caller(tenant_a, "athlete")
    for method, url, body, writes in detail_routes(world):
        if not writes:
            assert call(someone_else, method, url, body).status_code == 404, url
    assert someone_else.get("/api/v1/tests/").json()["results"] == []
    assert someone_else.get("/api/v1/imports/").json()["results"] == []


def test_staff_roles_may_write(caller, world, tenant_a):
    for role in ("owner", "admin", "physiologist"):
        staff = caller(tenant_a, role)
        assert staff.patch(f"/api/v1/tests/{world['test']}/", {"notes": role}, format="json").status_code == 200
    assert caller(tenant_a).get(f"/api/v1/tests/{world['test']}/").json()["notes"] == "physiologist"


def test_no_token_is_401_everywhere(world):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    for method, url, body, _ in detail_routes(world) + [("get", "/api/v1/tests/", None, False),
                                                        ("post", "/api/v1/imports/", None, True)]:
        response = call(anonymous, method, url, body)
        assert response.status_code == 401 and response["Content-Type"] == "application/problem+json", url


def test_a_token_that_cannot_be_checked_now_is_503_not_401(caller, tenant_a):
    """Identity unreachable and no signing key held: the token may be fine, so the answer is 503 `auth-unavailable`
    with Retry-After (a client retries; a 401 would send its user back to the login), and nothing is stored."""
    import httpx

    from servicekit import jwt as kit_jwt

    def identity_unreachable():
        raise httpx.ConnectError("identity is down")

    kit_jwt.set_verifier(kit_jwt.TokenVerifier(kit_jwt.JWKSCache(identity_unreachable), issuer="vo2max-identity",
                                               audience="vo2max-api"))
    owner = caller(tenant_a)
    for response in (owner.get("/api/v1/athletes/"),
                     owner.post("/api/v1/athletes/", {"name": "Nobody", "sex": "female"}, format="json")):
        assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
        assert response.json()["type"] == "urn:vo2:problem:auth-unavailable" and response["Retry-After"] == "1"
    garbage = caller(tenant_a)
    garbage.client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert garbage.get("/api/v1/athletes/").status_code == 401  # a token that is wrong whatever the keys stays 401
    kit_jwt.set_verifier(None)  # identity is back
    assert owner.get("/api/v1/athletes/").json()["results"] == []
