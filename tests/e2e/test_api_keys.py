"""API keys through the gateway (issue 16 item 4): a key works as `Authorization: Bearer vo2_…` on every API call,
acts as the key (its role, its tenant, audited as the key), is refused within the gateway's cache time (≤ 60 s)
after revocation, is never an owner and never crosses tenants."""
import time
import uuid

from .conftest import Api

KEYS = "/api/v1/tenants/current/api-keys/"


def athlete_body(last_name):
    return {"first_name": "Key", "last_name": last_name, "sex": "female", "birth_date": "1990-01-01",
            "body_mass_kg": 60}


def as_key(gateway, secret) -> Api:
    return Api(gateway, token=secret)


def new_key(owner, role="physiologist", name=None):
    created = owner.post(KEYS, {"name": name or f"key-{uuid.uuid4().hex[:6]}", "role": role})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    return created.json()


def test_a_key_works_on_the_api_as_itself(owner, gateway):
    key = new_key(owner, "physiologist")
    client = as_key(gateway, key["secret"])
    made = client.post("/api/v1/athletes/", athlete_body("Physio"), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert made.status_code == 201, made.text
    assert client.get(f"/api/v1/athletes/{made.json()['id']}").status_code == 200
    assert "ratelimit" in {h.lower() for h in client.get("/api/v1/athletes/").headers}
    me = client.get("/api/v1/tenants/current/")
    assert me.status_code == 200 and me.json()["slug"] == "first-lab"
    listed = {k["id"]: k for k in owner.get(KEYS).json()["results"]}
    assert listed[key["id"]]["last_used_at"] is not None and "secret" not in listed[key["id"]]
    audit = owner.get("/api/v1/tenants/current/audit/", params={"kind": "api_key.used"}).json()["results"]
    assert any(e["actor"] == f"api_key:{key['id']}" for e in audit)

    viewer = as_key(gateway, new_key(owner, "viewer")["secret"])
    assert viewer.get("/api/v1/athletes/").status_code == 200
    refused = viewer.post("/api/v1/athletes/", athlete_body("Viewer"), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert refused.status_code == 403


def test_a_key_is_never_an_owner_and_cannot_make_keys(owner, gateway):
    refused = owner.post(KEYS, {"name": "boss", "role": "owner"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "role"
    admin = as_key(gateway, new_key(owner, "admin")["secret"])
    assert admin.post(KEYS, {"name": "more", "role": "admin"}).status_code == 403
    members = admin.get("/api/v1/tenants/current/members/").json()["results"]
    the_owner = next(m for m in members if m["role"] == "owner")
    assert admin.patch(f"/api/v1/tenants/current/members/{the_owner['id']}/", {"role": "viewer"}).status_code == 403


def test_a_key_never_crosses_tenants(owner, second_lab, gateway):
    theirs = second_lab.post("/api/v1/athletes/", athlete_body("Other"), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert theirs.status_code == 201, theirs.text
    key = as_key(gateway, new_key(owner, "admin")["secret"])
    assert key.get(f"/api/v1/athletes/{theirs.json()['id']}").status_code == 404
    assert theirs.json()["id"] not in {a["id"] for a in key.get("/api/v1/athletes/").json()["results"]}
    their_key = new_key(second_lab, "viewer")
    assert key.delete(KEYS + their_key["id"]).status_code == 403  # a key manages no keys, whoever's
    assert owner.delete(KEYS + their_key["id"]).status_code == 404
    assert owner.get(KEYS + their_key["id"]).status_code == 404
    assert as_key(gateway, their_key["secret"]).get("/api/v1/tenants/current/").json()["slug"] == "second-lab"


def test_a_revoked_key_is_refused_within_the_cache_time(owner, gateway, system):
    key = new_key(owner, "viewer")
    client = as_key(gateway, key["secret"])
    assert client.get("/api/v1/athletes/").status_code == 200  # exchanged and cached by the gateway
    assert owner.delete(KEYS + key["id"]).status_code == 204
    revoked_at = time.monotonic()
    cache_s = float(system.extra_env.get("API_KEY_CACHE_S", 60))
    while True:
        answer = client.get("/api/v1/athletes/")
        if answer.status_code == 401:
            break
        assert answer.status_code == 200
        assert time.monotonic() - revoked_at <= min(cache_s, 60) + 5, "still accepted after the cache time"
        time.sleep(0.5)
    assert answer.json()["type"] == "urn:vo2:problem:not-authenticated"
    assert time.monotonic() - revoked_at <= 60
    assert as_key(gateway, "vo2_" + "x" * 43).get("/api/v1/athletes/").status_code == 401
