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


def test_height_and_body_mass_are_kept_to_a_tenth_not_refused_for_finer_numbers(caller, tenant_a):
    """Issue 12 (schemathesis positive_data_acceptance): the document says `number` in a range; 180.37 was 400
    "no more than 5 digits in total"."""
    owner = caller(tenant_a)
    created = owner.post("/api/v1/athletes/", {**ANNA, "height_cm": 180.37827603269184, "body_mass_kg": 66.05},
                         format="json")
    assert created.status_code == 201, created.content
    assert created.json()["height_cm"] == 180.4 and created.json()["body_mass_kg"] == 66.1
    assert owner.post("/api/v1/athletes/", {**ANNA, "height_cm": 260.04}, format="json").json()["height_cm"] == 260.0
    too_tall = owner.post("/api/v1/athletes/", {**ANNA, "height_cm": 260.06}, format="json")
    assert too_tall.status_code == 400 and too_tall.json()["errors"][0]["field"] == "height_cm"


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


def test_athlete_role_sees_only_their_own_record(caller, tenant_a, directory):
    owner = caller(tenant_a)
    me = caller(tenant_a, "athlete")
    directory.add(me)
    mine = owner.post("/api/v1/athletes/", {**ANNA, "user_id": me.user_id}, format="json").json()
    owner.post("/api/v1/athletes/", {**ANNA, "first_name": "Other"}, format="json")
    listed = me.get("/api/v1/athletes/").json()["results"]
    assert [a["id"] for a in listed] == [mine["id"]]


# ---- user_id: the athlete user the record belongs to, checked against identity ------------------------------------

def test_user_id_must_be_an_athlete_member_of_this_lab(caller, tenant_a, tenant_b, directory):
    owner = caller(tenant_a)
    athlete_a, physio_a, athlete_b = caller(tenant_a, "athlete"), caller(tenant_a, "physiologist"), \
        caller(tenant_b, "athlete")
    for member in (athlete_a, physio_a, athlete_b):
        directory.add(member)
    import uuid

    refusals = []
    for user_id in (athlete_b.user_id, str(uuid.uuid4()), physio_a.user_id):  # another lab's, nobody's, not athlete
        response = owner.post("/api/v1/athletes/", {**ANNA, "user_id": user_id}, format="json")
        assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
        assert response.json()["type"] == "urn:vo2:problem:validation-error"
        assert response.json()["errors"][0]["field"] == "user_id"
        refusals.append(response.json())
    # another lab's user and an unknown id answer alike: nothing tells whether the user exists elsewhere
    assert refusals[0] == refusals[1]
    assert owner.get("/api/v1/athletes/").json()["results"] == []
    made = owner.post("/api/v1/athletes/", {**ANNA, "user_id": athlete_a.user_id}, format="json")
    assert made.status_code == 201 and made.json()["user_id"] == athlete_a.user_id
    # a change of user_id is checked too (another lab's athlete: refused, the record keeps its user)
    path = f"/api/v1/athletes/{made.json()['id']}/"
    refused = owner.patch(path, {"user_id": athlete_b.user_id}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "user_id"
    assert owner.get(path).json()["user_id"] == athlete_a.user_id
    assert owner.patch(path, {"user_id": None}, format="json").json()["user_id"] is None  # unlinking needs no check
    assert owner.put(path, {**ANNA, "user_id": athlete_a.user_id}, format="json").status_code == 200


def test_identity_down_is_a_503_and_stores_nothing(caller, tenant_a, directory):
    owner, me = caller(tenant_a), caller(tenant_a, "athlete")
    directory.add(me)
    directory.down = True
    response = owner.post("/api/v1/athletes/", {**ANNA, "user_id": me.user_id}, format="json")
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:vo2:problem:identity-unavailable" and response["Retry-After"]
    assert owner.get("/api/v1/athletes/").json()["results"] == []
    assert owner.post("/api/v1/athletes/", ANNA, format="json").status_code == 201  # no user_id: identity not asked


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


# ---- Idempotency-Key: a retried create must not make a second athlete -----------------------------------------------

def test_a_retried_create_with_the_same_key_returns_the_first_athlete(caller, tenant_a):
    physio = caller(tenant_a, "physiologist")
    first = physio.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="retry-7f3a")
    again = physio.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="retry-7f3a")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first and first["Location"] == f"/api/v1/athletes/{first.json()['id']}/"
    assert [a["id"] for a in physio.get("/api/v1/athletes/").json()["results"]] == [first.json()["id"]]


def test_the_same_key_with_another_body_is_refused_and_stores_nothing(caller, tenant_a):
    physio = caller(tenant_a, "physiologist")
    physio.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    clash = physio.post("/api/v1/athletes/", {**ANNA, "first_name": "Olga"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    # the IETF Idempotency-Key draft: a key reused with another payload is 422 (409 is for a request in flight)
    assert clash.status_code == 422 and clash["Content-Type"] == "application/problem+json"
    assert clash.json()["type"].endswith("idempotency-key-reused")
    assert [a["first_name"] for a in physio.get("/api/v1/athletes/").json()["results"]] == ["Anna"]


def test_keys_belong_to_their_caller_and_tenant(caller, tenant_a, tenant_b):
    a1, a2, b1 = caller(tenant_a, "physiologist"), caller(tenant_a, "owner"), caller(tenant_b, "owner")
    ids = {c.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="same").json()["id"]
           for c in (a1, a2, b1)}
    assert len(ids) == 3  # nobody replays (or learns of) another caller's athlete
    assert len(a1.get("/api/v1/athletes/").json()["results"]) == 2
    assert len(b1.get("/api/v1/athletes/").json()["results"]) == 1


@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "ключ"])
def test_a_malformed_key_is_a_400_naming_the_header(caller, tenant_a, key):
    physio = caller(tenant_a, "physiologist")
    response = physio.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert physio.get("/api/v1/athletes/").json()["results"] == []


def test_a_reader_with_a_key_still_gets_403(caller, tenant_a):
    response = caller(tenant_a, "viewer").post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 403


@pytest.mark.postgres_only  # SQLite runs writers one at a time (BEGIN IMMEDIATE): a retry waits for the first
def test_a_retry_while_the_first_request_is_in_flight_is_409_then_replays(caller, tenant_a, monkeypatch):
    """The first request with the key is still inside its create (its transaction open) when the retry arrives: the
    retry is told 409 idempotency-key-in-flight and stores nothing; once the first answered, a retry replays it."""
    import threading

    from django.db import connections

    from measurements.athletes.models import Athlete

    inside_create, retry_answered = threading.Event(), threading.Event()
    real_create = Athlete.objects.create

    def slow_create(**fields):
        inside_create.set()
        assert retry_answered.wait(20)
        return real_create(**fields)

    monkeypatch.setattr(Athlete.objects, "create", slow_create)
    user = caller(tenant_a, "physiologist").user_id
    first = []

    def first_request():
        try:
            client = caller(tenant_a, "physiologist", user_id=user)
            first.append(client.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="slow"))
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert inside_create.wait(20)
        retry = caller(tenant_a, "physiologist", user_id=user)
        in_flight = retry.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="slow")
        # another key is not held up by it
        monkeypatch.setattr(Athlete.objects, "create", real_create)
        other_key = retry.post("/api/v1/athletes/", {**ANNA, "first_name": "Olga"}, format="json",
                               HTTP_IDEMPOTENCY_KEY="other")
    finally:
        retry_answered.set()
        thread.join(30)
    assert in_flight.status_code == 409 and in_flight["Content-Type"] == "application/problem+json"
    assert in_flight.json()["type"].endswith("idempotency-key-in-flight")
    assert other_key.status_code == 201
    [done] = first
    assert done.status_code == 201 and "Idempotent-Replayed" not in done
    replay = retry.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == done.json()["id"]
    names = sorted(a["first_name"] for a in caller(tenant_a, "owner").get("/api/v1/athletes/").json()["results"])
    assert names == ["Anna", "Olga"]


@pytest.mark.postgres_only
def test_two_concurrent_retries_make_one_athlete(caller, tenant_a, monkeypatch):
    """Both requests pass the "seen this key?" check and the in-flight claim before either inserts (as two
    processes on a database the claim does not span would): the unique constraint lets one win and the other
    answers with the winner's athlete."""
    import threading

    from django.db import connections

    from measurements.athletes.models import Athlete
    from servicekit.django import idempotency

    monkeypatch.setattr(idempotency, "_claim", lambda claim, alias: None)

    both_checked = threading.Barrier(2, timeout=10)
    real_create = Athlete.objects.create

    def create_after_both_checked(**fields):
        both_checked.wait()
        return real_create(**fields)

    monkeypatch.setattr(Athlete.objects, "create", create_after_both_checked)
    user = caller(tenant_a, "physiologist").user_id
    answers = []

    def retry():
        try:
            client = caller(tenant_a, "physiologist", user_id=user)
            answers.append(client.post("/api/v1/athletes/", ANNA, format="json", HTTP_IDEMPOTENCY_KEY="race"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(a.status_code for a in answers) == [201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sorted(a.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
    monkeypatch.undo()
    assert len(caller(tenant_a, "owner").get("/api/v1/athletes/").json()["results"]) == 1
