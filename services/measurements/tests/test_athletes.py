import pytest

pytestmark = pytest.mark.django_db(transaction=True)

ANNA = {"first_name": "Anna", "last_name": "Ivanova", "sex": "female", "birth_date": "1994-03-12",
        "height_cm": 168.5, "body_mass_kg": 58.2, "sport": "rowing", "notes": "national team"}


def test_physiologist_creates_reads_updates_and_deletes_an_athlete(caller, tenant_a):
    physiologist = caller(tenant_a, "physiologist")
    created = physiologist.post("/api/v1/athletes/", ANNA, format="json")
    assert created.status_code == 201, created.content
    athlete = created.json()
    assert athlete["last_name"] == "Ivanova" and athlete["body_mass_kg"] == 58.2

    assert physiologist.get(f"/api/v1/athletes/{athlete['id']}/").json()["sport"] == "rowing"
    changed = physiologist.patch(f"/api/v1/athletes/{athlete['id']}/", {"body_mass_kg": 59.0}, format="json")
    assert changed.status_code == 200 and changed.json()["body_mass_kg"] == 59.0
    assert physiologist.delete(f"/api/v1/athletes/{athlete['id']}/").status_code == 204
    assert physiologist.get(f"/api/v1/athletes/{athlete['id']}/").status_code == 404


def test_list_uses_cursor_pages(caller, tenant_a):
    owner = caller(tenant_a)
    for i in range(5):
        assert owner.post("/api/v1/athletes/", {**ANNA, "first_name": f"A{i}"}, format="json").status_code == 201
    page = owner.get("/api/v1/athletes/?page_size=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"]
    seen = [a["first_name"] for a in page["results"]]
    while page["next"]:
        page = owner.client.get(page["next"]).json()
        seen += [a["first_name"] for a in page["results"]]
    assert sorted(seen) == [f"A{i}" for i in range(5)]


def test_another_tenant_gets_404_and_never_sees_the_athlete(caller, tenant_a, tenant_b):
    athlete = caller(tenant_a).post("/api/v1/athletes/", ANNA, format="json").json()
    intruder = caller(tenant_b, "owner")
    url = f"/api/v1/athletes/{athlete['id']}/"
    assert intruder.get(url).status_code == 404
    assert intruder.patch(url, {"notes": "x"}, format="json").status_code == 404
    assert intruder.put(url, ANNA, format="json").status_code == 404
    assert intruder.delete(url).status_code == 404
    assert intruder.get("/api/v1/athletes/").json()["results"] == []
    assert caller(tenant_a).get(url).json()["notes"] == "national team"


@pytest.mark.parametrize("role", ["viewer", "athlete"])
def test_readers_may_not_write(caller, tenant_a, role):
    athlete = caller(tenant_a).post("/api/v1/athletes/", ANNA, format="json").json()
    reader = caller(tenant_a, role)
    response = reader.post("/api/v1/athletes/", ANNA, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert reader.patch(f"/api/v1/athletes/{athlete['id']}/", {"notes": "x"}, format="json").status_code in (403, 404)
    assert reader.delete(f"/api/v1/athletes/{athlete['id']}/").status_code in (403, 404)


def test_athlete_role_sees_only_their_own_record(caller, tenant_a):
    owner = caller(tenant_a)
    me = caller(tenant_a, "athlete")
    mine = owner.post("/api/v1/athletes/", {**ANNA, "user_id": me.user_id}, format="json").json()
    owner.post("/api/v1/athletes/", {**ANNA, "first_name": "Other"}, format="json")
    listed = me.get("/api/v1/athletes/").json()["results"]
    assert [a["id"] for a in listed] == [mine["id"]]


def test_viewer_reads(caller, tenant_a):
    caller(tenant_a).post("/api/v1/athletes/", ANNA, format="json")
    assert len(caller(tenant_a, "viewer").get("/api/v1/athletes/").json()["results"]) == 1


def test_bad_input_is_a_problem_naming_the_field(caller, tenant_a):
    response = caller(tenant_a).post("/api/v1/athletes/", {**ANNA, "body_mass_kg": 5000, "sex": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert body["type"] == "urn:vo2:problem:validation-error"
    assert {e["field"] for e in body["errors"]} == {"body_mass_kg", "sex"}


def test_tenantless_or_missing_token_is_refused(caller, signing_keys):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    response = anonymous.get("/api/v1/athletes/")
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer " + signing_keys.token(tid=None))
    assert anonymous.get("/api/v1/athletes/").status_code == 403


def test_spoofed_identity_headers_change_nothing(caller, tenant_a, tenant_b):
    caller(tenant_a).post("/api/v1/athletes/", ANNA, format="json")
    intruder = caller(tenant_b)
    response = intruder.get("/api/v1/athletes/", HTTP_X_TENANT_ID=tenant_a, HTTP_X_USER_ID="x")
    assert response.json()["results"] == []
