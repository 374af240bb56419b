"""Plans through the gateway (issue 16 item 5): quotas reached answer 403 plan-limit naming the quota (API keys at
identity, the month's imports at measurements), and a tenant whose plan ran out is read-only everywhere (402
plan-expired on writes, reads work, nothing deleted) — for its people and its API keys alike."""
import uuid
from datetime import date, timedelta
from pathlib import Path

from .conftest import Api

ROOT = Path(__file__).resolve().parents[2]
ZAN = ROOT / "testdata" / "cpet" / "spiro" / "zan_ramp"
ATHLETE = {"first_name": "Plan", "last_name": "Limit", "sex": "male", "birth_date": "1988-05-05", "body_mass_kg": 75}


def test_quotas_and_an_expired_plan_through_the_gateway(system, second_lab, gateway):
    operator = Api(gateway)
    operator.login("operator@vo2.platform", "platform-operator-pw-1")  # made by the second_lab fixture
    slug = f"plan-lab-{uuid.uuid4().hex[:6]}"
    created = operator.post("/api/v1/tenants/", {"name": "Plan Lab", "slug": slug, "plan": "trial",
                                                 "owner": {"email": f"owner@{slug}.test", "password": "plan-lab-pw-12"}})
    assert created.status_code == 201, created.text
    tenant_id = created.json()["id"]
    owner = Api(gateway)
    owner.login(f"owner@{slug}.test", "plan-lab-pw-12")

    first_key = owner.post("/api/v1/tenants/current/api-keys/", {"name": "one", "role": "physiologist"})
    assert first_key.status_code == 201, first_key.text
    refused = owner.post("/api/v1/tenants/current/api-keys/", {"name": "two", "role": "viewer"})
    assert refused.status_code == 403 and refused.json()["type"] == "urn:vo2:problem:plan-limit"
    assert refused.json()["quota"] == "api_keys"

    assert operator.patch(f"/api/v1/tenants/{tenant_id}/", {"quotas": {"imports_per_month": 1}}).status_code == 200
    owner.login(f"owner@{slug}.test", "plan-lab-pw-12")  # the next token carries the new quota
    athlete = owner.post("/api/v1/athletes/", ATHLETE, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert athlete.status_code == 201, athlete.text

    def import_file():
        with open(ZAN, "rb") as f:
            return owner.post("/api/v1/imports/", data={"athlete": athlete.json()["id"]}, files={"file": ("zan", f)},
                              headers={"Idempotency-Key": str(uuid.uuid4())})
    assert import_file().status_code == 202
    over = import_file()
    assert over.status_code == 403 and over.json()["type"] == "urn:vo2:problem:plan-limit", over.text
    assert over.json()["quota"] == "imports_per_month"

    yesterday = str(date.today() - timedelta(days=1))
    assert operator.patch(f"/api/v1/tenants/{tenant_id}/", {"paid_until": yesterday}).json()["limits"]["read_only"]
    owner.login(f"owner@{slug}.test", "plan-lab-pw-12")
    key = Api(gateway, token=first_key.json()["secret"])
    for who in (owner, key):
        assert who.get(f"/api/v1/athletes/{athlete.json()['id']}").status_code == 200
        assert who.get("/api/v1/athletes/").status_code == 200
        for answer in (who.post("/api/v1/athletes/", ATHLETE, headers={"Idempotency-Key": str(uuid.uuid4())}),
                       who.patch(f"/api/v1/athletes/{athlete.json()['id']}", {"sport": "rowing"}),
                       who.delete(f"/api/v1/athletes/{athlete.json()['id']}")):
            assert answer.status_code == 402, answer.text
            assert answer.json()["type"] == "urn:vo2:problem:plan-expired"
    assert owner.patch("/api/v1/tenants/current/", {"name": "Renamed"}).status_code == 402
    assert owner.get("/api/v1/tenants/current/").json()["name"] == "Plan Lab"
    audit = owner.get("/api/v1/tenants/current/audit/", params={"kind": "tenant.plan_changed"}).json()["results"]
    assert len(audit) == 2
