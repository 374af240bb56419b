"""Issue 12: hostile and careless input at the edges gets a 4xx problem, links name the public URL, conventions hold —
through the gateway over HTTP, and at a service directly where the service itself must hold the line."""
import json
import uuid

import httpx
import pytest

from .conftest import OWNER_EMAIL, OWNER_PASSWORD

PROBLEM = "application/problem+json"
FORGED_CURSOR = "bz0xMDAwMDAwMDAwMDAwJnA9eA%3D%3D"  # base64("o=1000000000000&p=x"): decodes, but p is no date
LISTS = {"measurements": ["/api/v1/athletes/", "/api/v1/tests/", "/api/v1/imports/"],
         "reports": ["/api/v1/reports/"],
         "identity": ["/api/v1/tenants/current/audit/", "/api/v1/tenants/current/members/",
                      "/api/v1/tenants/current/invitations/"],
         "notifications": ["/api/v1/notifications/"]}
ATHLETE = {"first_name": "Edge", "last_name": "Case", "sex": "female", "birth_date": "1990-01-01"}


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, (response.url, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith(PROBLEM), response.headers.get("content-type")
    body = response.json()
    if slug:
        assert body["type"] == f"urn:vo2:problem:{slug}", body
    return body


def direct(system, service: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=system.url(service), headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.mark.parametrize("service,path", [(s, p) for s, paths in LISTS.items() for p in paths])
def test_a_forged_cursor_is_a_400_problem_on_every_list(system, owner, service, path):
    assert_problem(owner.get(f"{path}?cursor={FORGED_CURSOR}"), 400, "invalid-cursor")
    assert_problem(owner.get(f"{path}?cursor=not-base64!"), 400, "invalid-cursor")
    assert_problem(direct(system, service, owner.token).get(f"{path}?cursor={FORGED_CURSOR}"), 400, "invalid-cursor")
    for size in ("null", "0", "-1", "1.5", "201"):
        assert_problem(owner.get(f"{path}?page_size={size}"), 400, "validation-error")
    assert owner.get(f"{path}?page_size=1").status_code == 200


def test_deeply_nested_json_and_non_finite_numbers_are_400(system, owner):
    nested = "[" * 5000 + "]" * 5000
    body = '{"first_name": "A", "last_name": "B", "sex": "male", "notes": ' + nested + "}"
    headers = {"Content-Type": "application/json"}
    before = len(owner.get("/api/v1/athletes/?page_size=200").json()["results"])
    assert_problem(owner.post("/api/v1/athletes/", content=body, headers=headers), 400)
    assert_problem(direct(system, "measurements", owner.token).post("/api/v1/athletes/", content=body,
                                                                     headers=headers), 400)
    moderately = '{"a": ' + "[" * 40 + "]" * 40 + "}"  # deeper than the kit's limit (32)
    assert_problem(owner.post("/api/v1/athletes/", content=moderately, headers=headers), 400)
    huge = '{"first_name": "A", "last_name": "B", "sex": "male", "body_mass_kg": 1e309}'
    assert_problem(owner.post("/api/v1/athletes/", content=huge, headers=headers), 400)
    assert len(owner.get("/api/v1/athletes/?page_size=200").json()["results"]) == before  # nothing stored


def test_an_oversized_body_is_a_413_problem(system, owner):
    body = b'{"notes": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    headers = {"Content-Type": "application/json"}
    assert_problem(owner.post("/api/v1/athletes/", content=body, headers=headers), 413, "payload-too-large")
    assert_problem(direct(system, "measurements", owner.token).post("/api/v1/athletes/", content=body,
                                                                     headers=headers), 413, "payload-too-large")


def test_a_long_url_is_a_414_problem(owner):
    assert_problem(owner.get("/api/v1/athletes/?search=" + "a" * 5000), 414, "uri-too-long")


def test_a_chunked_body_is_read(owner):
    def chunks():
        data = json.dumps({**ATHLETE, "first_name": "Chunked"}).encode()
        yield data[:10]
        yield data[10:]

    created = owner.http.post("/api/v1/athletes/", content=chunks(),
                              headers={**owner.headers(), "Content-Type": "application/json"})
    assert created.status_code == 201, created.text
    assert created.json()["first_name"] == "Chunked"


def test_links_name_the_gateway(system, owner, gateway):
    for i in range(3):
        assert owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": f"Link{i}"}).status_code == 201
    page = owner.get("/api/v1/athletes/?page_size=1").json()
    assert page["next"].startswith(gateway + "/api/v1/athletes/"), page["next"]
    second = owner.get(page["next"]).json()
    assert second["previous"].startswith(gateway + "/api/v1/athletes/")
    members = owner.get("/api/v1/tenants/current/members/?page_size=1").json()
    if members["next"]:
        assert members["next"].startswith(gateway + "/")
    invited = owner.post("/api/v1/tenants/current/invitations/", {"email": f"l-{uuid.uuid4().hex[:6]}@x.lab",
                                                                  "role": "viewer"})
    assert invited.headers["location"].startswith(gateway + "/api/v1/tenants/current/invitations/")


def test_both_trailing_slash_forms_work(owner):
    athlete = owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": "Slash"}).json()
    assert owner.get("/api/v1/athletes").status_code == 200
    assert owner.get(f"/api/v1/athletes/{athlete['id']}").json()["id"] == athlete["id"]
    assert owner.get(f"/api/v1/athletes/{athlete['id']}/").json()["id"] == athlete["id"]
    assert owner.get("/api/v1/tests").status_code == 200 and owner.get("/api/v1/tests/").status_code == 200


def test_security_and_rate_limit_headers(system, anonymous, owner):
    login = anonymous.http.post("/api/v1/auth/login", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD})
    assert login.status_code == 200 and login.headers.get_list("cache-control") == ["no-store"]
    at_identity = httpx.post(system.url("identity") + "/api/v1/auth/login",
                             json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD})
    assert at_identity.status_code == 200 and at_identity.headers["cache-control"] == "no-store"
    assert at_identity.headers["x-content-type-options"] == "nosniff"
    listed = owner.get("/api/v1/athletes/")
    for response in (login, listed, anonymous.get("/api/docs")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in anonymous.get("/api/docs").headers["content-security-policy"]
    assert listed.headers["ratelimit"].startswith('"') and ";r=" in listed.headers["ratelimit"]
    assert ";q=" in listed.headers["ratelimit-policy"] and "ratelimit-remaining" not in listed.headers


def test_analysis_validation_is_400_like_every_service(system, owner):
    """One status per problem type: `validation-error` is 400 from the Django services and from analysis alike."""
    body = assert_problem(owner.post("/api/v1/analysis/cpet", {"samples": "not a table"}), 400, "validation-error")
    assert body["status"] == 400 and body["errors"]
    django_side = assert_problem(owner.post("/api/v1/athletes/", {"first_name": ""}), 400, "validation-error")
    assert django_side["status"] == 400


def test_the_merged_document_is_one_31_contract(anonymous):
    import time

    deadline = time.monotonic() + 60
    while "Not available" in (doc := anonymous.get("/api/openapi.json").json())["info"]["description"]:
        assert time.monotonic() < deadline, doc["info"]["description"]  # a service slow to build its schema
        time.sleep(1)
    text = json.dumps(doc)
    assert doc["openapi"] == "3.1.0" and '"nullable"' not in text
    assert list(doc["components"]["securitySchemes"]) == ["bearerAuth"]
    assert len({"/api/v1/reports/settings", "/api/v1/reports/settings/"} & set(doc["paths"])) == 1
    assert not [p for p in doc["paths"] if p.endswith("/") and p[:-1] in doc["paths"]]
    assert "HTTPValidationError" not in text
    members = doc["paths"]["/api/v1/tenants/current/members/"]["post"]["responses"]
    assert "202" in members and "201" not in members
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                assert "429" in operation["responses"], (method, path)


def test_a_service_builds_links_from_the_forwarded_public_url(system, owner):
    """The kit side of public links, at a service directly: X-Forwarded-Proto/-Host/-Prefix as the gateway sends
    them (a proxy in front of it may add the prefix); a value that is not a plain host is ignored."""
    for i in range(2):
        assert owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": f"Fwd{i}"}).status_code == 201
    client = direct(system, "measurements", owner.token)
    page = client.get("/api/v1/athletes/?page_size=1", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "vo2.example.org", "X-Forwarded-Prefix": "/lab"}).json()
    assert page["next"].startswith("https://vo2.example.org/lab/api/v1/athletes/?cursor="), page["next"]
    bad = client.get("/api/v1/athletes/?page_size=1", headers={"X-Forwarded-Host": "evil.example/x?"}).json()
    assert bad["next"].startswith(system.url("measurements") + "/api/v1/athletes/"), bad["next"]


# ---- Idempotency-Key per the IETF draft -------------------------------------------------------------------------

def test_an_idempotency_key_with_another_body_is_422_and_a_replay_the_first_answer(owner):
    key = {"Idempotency-Key": f"edge-{uuid.uuid4()}"}
    first = owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": "Once"}, headers=key)
    again = owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": "Once"}, headers=key)
    assert first.status_code == again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert_problem(owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": "Twice"}, headers=key), 422,
                   "idempotency-key-reused")


def test_a_webhook_ping_with_a_key_is_sent_once(owner):
    made = owner.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/edge", "events": ["reports.*"]})
    assert made.status_code == 201, made.text
    key = {"Idempotency-Key": f"ping-{uuid.uuid4()}"}
    ping = f"/api/v1/webhooks/{made.json()['id']}/ping"
    first, again = owner.post(ping, headers=key), owner.post(ping, headers=key)
    assert first.status_code == again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    pings = [d for d in owner.get(f"/api/v1/webhooks/{made.json()['id']}/deliveries").json()["results"]
             if d["event_type"] == "notifications.webhook.ping"]
    assert len(pings) == 1
    owner.delete(f"/api/v1/webhooks/{made.json()['id']}")


# ---- an athlete's user_id is an athlete of the same lab (checked with identity) -----------------------------------

def test_an_athletes_user_id_must_be_an_athlete_member_of_the_lab(system, owner, second_lab, mailbox):
    from .conftest import join_by_invitation

    email = f"athlete-{uuid.uuid4().hex[:8]}@edge.lab"
    athlete_user, _ = join_by_invitation(owner, mailbox, email, "athlete", "edge-athlete-pw-1")
    mine = athlete_user.get("/api/v1/auth/me").json()["user"]["id"]
    theirs = second_lab.get("/api/v1/auth/me").json()["user"]["id"]
    me_owner = owner.get("/api/v1/auth/me").json()["user"]["id"]
    answers = []
    for user_id in (theirs, str(uuid.uuid4()), me_owner):  # another lab's user, nobody, a member who is no athlete
        body = assert_problem(owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": "Linked", "user_id": user_id}),
                              400, "validation-error")
        assert [e["field"] for e in body["errors"]] == ["user_id"]
        answers.append(body)
    assert answers[0] == answers[1]  # nothing tells whether the other lab's user exists
    assert not [a for a in owner.get("/api/v1/athletes/?search=Linked").json()["results"]]
    linked = owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": "Linked", "user_id": mine})
    assert linked.status_code == 201, linked.text
    assert [a["id"] for a in athlete_user.get("/api/v1/athletes/").json()["results"]] == [linked.json()["id"]]
    # the membership route is for services only, and the gateway does not route it at all
    assert athlete_user.get(f"/api/v1/internal/members/{mine}").status_code == 404
    direct_identity = direct(system, "identity", owner.token)
    assert_problem(direct_identity.get(f"/api/v1/internal/members/{mine}"), 403)


# ---- per-field limits -------------------------------------------------------------------------------------------

def test_five_mib_of_notes_is_a_400_naming_the_field(system, owner):
    body = {**ATHLETE, "notes": "n" * (5 * 2 ** 20)}
    for client in (owner, direct(system, "measurements", owner.token)):
        problem = assert_problem(client.post("/api/v1/athletes/", json=body), 400, "validation-error")
        [error] = problem["errors"]
        assert error["field"] == "notes" and "10000" in error["detail"]
    assert owner.post("/api/v1/athletes/", {**ATHLETE, "notes": "n" * 10_000}).status_code == 201


# ---- conditional requests on analysis results -------------------------------------------------------------------

def test_analysis_results_are_conditional_through_the_gateway(owner):
    import time
    from pathlib import Path

    athlete = owner.post("/api/v1/athletes/", {**ATHLETE, "first_name": "Etag", "sex": "male"}).json()
    path = Path(__file__).resolve().parents[2] / "testdata" / "cpet" / "spiro" / "zan_ramp"
    key = {"Idempotency-Key": f"import-{uuid.uuid4()}"}
    imp = owner.post("/api/v1/imports/", files={"file": (path.name, path.read_bytes())},
                     data={"athlete": athlete["id"]}, headers=key).json()
    # the same key with another file: 422, no second import (before: 202, the first import answered unseen)
    assert_problem(owner.post("/api/v1/imports/", files={"file": (path.name, path.read_bytes() + b"\n")},
                              data={"athlete": athlete["id"]}, headers=key), 422, "idempotency-key-reused")
    deadline = time.monotonic() + 90
    while (imp := owner.get(f"/api/v1/imports/{imp['id']}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, imp
        time.sleep(0.2)
    assert imp["status"] == "done", imp
    analysis = f"/api/v1/tests/{imp['test']}/analysis"
    first = owner.get(analysis)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"')
    held = owner.get(analysis, headers={"If-None-Match": etag})
    assert held.status_code == 304 and held.content == b"" and held.headers["etag"] == etag
    changed = owner.patch(analysis, {"overrides": {"vt1": {"speed_kmh": 12.5}}}, headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert_problem(owner.patch(analysis, {"overrides": {"vt1": {"speed_kmh": 11.0}}}, headers={"If-Match": etag}),
                   412, "precondition-failed")
    assert owner.get(analysis).json()["overrides"]["vt1"]["speed_kmh"] == 12.5
    assert owner.get(analysis, headers={"If-None-Match": etag}).status_code == 200
    versions = owner.get(analysis + "/versions")
    assert owner.get(analysis + "/versions", headers={"If-None-Match": versions.headers["etag"]}).status_code == 304


def test_a_field_the_endpoint_does_not_know_is_a_400_naming_it(system, owner):
    """DRF would drop it silently: "languge" would give an English report, "birthdate" an athlete without a birth
    date. Every service names the unknown field and what the endpoint takes; nothing is stored."""
    athletes = len(owner.get("/api/v1/athletes/?page_size=200").json()["results"])
    body = assert_problem(owner.post("/api/v1/athletes/", {**ATHLETE, "birthdate": "1990-01-01"}), 400,
                          "validation-error")
    [error] = body["errors"]
    assert error["field"] == "birthdate" and error["code"] == "unknown_field", error
    assert "birth_date" in error["detail"] and body["detail"].startswith("birthdate: Unknown field"), body
    assert len(owner.get("/api/v1/athletes/?page_size=200").json()["results"]) == athletes

    # the unknown field and the known fields' own errors come in one answer
    body = assert_problem(owner.post("/api/v1/athletes/", {"first_name": "", "colour": "red"}), 400)
    fields = {e["field"] for e in body["errors"]}
    assert {"colour", "first_name", "last_name"} <= fields, body["errors"]

    # a nested settings object names the path of its unknown field
    body = assert_problem(owner.put("/api/v1/tests/settings", {"averaging": {"method": "time", "windw_s": 30}}), 400)
    assert "averaging.windw_s" in {e["field"] for e in body["errors"]}, body["errors"]

    for method, path, payload, field in [
            ("post", "/api/v1/reports/", {"test": str(uuid.uuid4()), "languge": "ru"}, "languge"),
            ("patch", "/api/v1/tenants/current/", {"nmae": "Renamed"}, "nmae"),
            ("put", "/api/v1/notifications/preferences", {"kind": {}}, "kind")]:
        body = assert_problem(getattr(owner, method)(path, payload), 400, "validation-error")
        assert field in {e["field"] for e in body["errors"]}, (path, body)
    assert owner.get("/api/v1/tenants/current/").json()["name"] != "Renamed"

    # what a GET returned can be sent back: its read-only fields are known, and ignored as before
    athlete = owner.post("/api/v1/athletes/", ATHLETE).json()
    edited = owner.patch(f"/api/v1/athletes/{athlete['id']}/", {**athlete, "notes": "edited"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["notes"] == "edited" and edited.json()["id"] == athlete["id"]


@pytest.mark.parametrize("method,path", [("put", "/api/v1/tests/settings"), ("put", "/api/v1/reports/settings"),
                                         ("put", "/api/v1/notifications/preferences"),
                                         ("patch", "/api/v1/tenants/current/"), ("patch", "/api/v1/users/me")])
def test_a_settings_body_a_get_answered_can_be_sent_back_unchanged(owner, method, path):
    """Read, change, write: the fields a GET adds (updated_at, logo, id, ...) are not refused as unknown."""
    before = owner.get(path)
    assert before.status_code == 200, before.text
    written = getattr(owner, method)(path, before.json())
    assert written.status_code == 200, (path, written.text)
    stamps = {"updated_at", "updated_by"}  # who wrote it last, and when, does change

    def settings(body):
        return {k: v for k, v in body.items() if k not in stamps}
    assert settings(owner.get(path).json()) == settings(before.json())


@pytest.mark.parametrize("service,path", [(s, p) for s, paths in LISTS.items() for p in paths]
                         + [("notifications", "/api/v1/webhooks/"), ("identity", "/api/v1/tenants/current/api-keys/")])
def test_a_query_parameter_a_list_does_not_know_is_a_400_naming_it(system, owner, service, path):
    """django-filter would ignore it: `?athelte=<id>` would list every athlete's tests as if they were one's."""
    for client in (owner, direct(system, service, owner.token)):
        body = assert_problem(client.get(f"{path}?athelte={uuid.uuid4()}&page_size=5"), 400, "validation-error")
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("athelte", "unknown_parameter")], body
        assert "page_size" in body["detail"], body
    assert owner.get(f"{path}?page_size=5").status_code == 200


def test_a_list_filter_spelt_right_still_filters_and_detail_routes_keep_their_parameters(system, owner):
    athlete = owner.post("/api/v1/athletes/", ATHLETE).json()
    mine = owner.get(f"/api/v1/tests/?athlete={athlete['id']}")
    assert mine.status_code == 200 and mine.json()["results"] == []
    assert owner.get(f"/api/v1/athletes/?search={ATHLETE['last_name']}&sex=female").status_code == 200
    # a detail route is not a list: its query parameters are its view's own (here one it ignores)
    assert owner.get(f"/api/v1/athletes/{athlete['id']}/?fields=all").status_code == 200
