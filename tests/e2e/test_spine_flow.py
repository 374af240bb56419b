"""The walking skeleton's flow, through the gateway only, in local and SaaS mode."""
import uuid

from .conftest import OWNER_EMAIL, OWNER_PASSWORD, Api, join_by_invitation

ANNA = {"first_name": "Anna", "last_name": "Ivanova", "sex": "female", "birth_date": "1994-03-12",
        "height_cm": 168.5, "body_mass_kg": 58.2, "sport": "rowing"}


def test_login_answers_the_token_pair(anonymous):
    response = anonymous.http.post("/api/v1/auth/login", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD,
                                                                "tenant": "first-lab"})
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) >= {"access", "refresh", "token_type", "expires_in"}
    assert tokens["token_type"] == "Bearer" and 0 < tokens["expires_in"] <= 3600
    assert response.headers["x-request-id"]


def test_owner_creates_lists_and_reads_athletes_with_cursor_pages(owner):
    ids = []
    for i in range(3):
        created = owner.post("/api/v1/athletes/", {**ANNA, "first_name": f"Anna{i}"})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    read = owner.get(f"/api/v1/athletes/{ids[0]}/")
    assert read.status_code == 200 and read.json()["first_name"] == "Anna0"
    page = owner.get("/api/v1/athletes/", params={"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    seen = {a["id"] for a in page["results"]}
    next_url = page["next"]
    while next_url:
        page = owner.http.get(next_url, headers=owner.headers()).json()
        seen |= {a["id"] for a in page["results"]}
        next_url = page["next"]
    assert set(ids) <= seen


def test_another_tenant_gets_404_and_never_sees_the_athlete(owner, second_lab):
    athlete = owner.post("/api/v1/athletes/", ANNA).json()
    url = f"/api/v1/athletes/{athlete['id']}/"
    for response in (second_lab.get(url), second_lab.patch(url, {"notes": "mine"}), second_lab.put(url, ANNA),
                     second_lab.delete(url)):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert athlete["id"] not in {a["id"] for a in second_lab.get("/api/v1/athletes/").json()["results"]}
    assert owner.get(url).status_code == 200


def test_roles_decide_who_may_create_an_athlete(owner, gateway, mailbox):
    suffix = uuid.uuid4().hex[:6]
    for role, expected in (("viewer", 403), ("physiologist", 201)):
        email = f"{role}-{suffix}@first.lab"
        join_by_invitation(owner, mailbox, email, role, f"{role}-pw-{suffix}-x")
        member = Api(gateway)
        member.login(email, f"{role}-pw-{suffix}-x")
        response = member.post("/api/v1/athletes/", ANNA)
        assert response.status_code == expected, response.text
        assert member.get("/api/v1/athletes/").status_code == 200


def test_refresh_rotates_and_reuse_revokes_the_family(anonymous):
    first = anonymous.login(OWNER_EMAIL, OWNER_PASSWORD)
    second = anonymous.http.post("/api/v1/auth/refresh", json={"refresh": first["refresh"]})
    assert second.status_code == 200 and second.json()["refresh"] != first["refresh"]
    newest = second.json()["refresh"]
    reused = anonymous.http.post("/api/v1/auth/refresh", json={"refresh": first["refresh"]})
    assert reused.status_code == 401 and reused.headers["content-type"] == "application/problem+json"
    assert anonymous.http.post("/api/v1/auth/refresh", json={"refresh": newest}).status_code == 401


def test_logout_revokes_the_refresh_token(anonymous):
    tokens = anonymous.login(OWNER_EMAIL, OWNER_PASSWORD)
    assert anonymous.http.post("/api/v1/auth/logout", json={"refresh": tokens["refresh"]}).status_code == 204
    assert anonymous.http.post("/api/v1/auth/refresh", json={"refresh": tokens["refresh"]}).status_code == 401


def test_me_names_the_user_tenant_and_roles(owner):
    me = owner.get("/api/v1/auth/me").json()
    assert me["user"]["email"] == OWNER_EMAIL
    assert me["tenant"]["slug"] == "first-lab" and me["roles"] == ["owner"]


def test_jwks_is_public_and_unknown_paths_are_problems(anonymous, owner):
    jwks = anonymous.http.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json()["keys"][0]["kid"]
    # Without a token the gateway reveals nothing about which paths exist; with one, an unknown path is a 404.
    assert anonymous.http.get("/api/v1/nothing-here").status_code == 401
    missing = owner.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_every_service_is_routed_and_documented(anonymous):
    document = anonymous.http.get("/api/openapi.json").json()
    paths = set(document["paths"])
    assert any(p.startswith("/api/v1/auth/") for p in paths)
    assert any(p.startswith("/api/v1/athletes/") for p in paths)
    assert any(p.startswith("/api/v1/analysis/") for p in paths)
    assert anonymous.http.get("/api/docs").status_code == 200
    assert anonymous.http.get("/readyz").status_code == 200


def test_spoofed_identity_headers_change_nothing(owner, second_lab):
    athlete = owner.post("/api/v1/athletes/", ANNA).json()
    me = owner.get("/api/v1/auth/me").json()
    spoof = {"X-Tenant-ID": me["tenant"]["id"], "X-User-ID": me["user"]["id"], "X-User-Roles": "owner"}
    assert second_lab.get(f"/api/v1/athletes/{athlete['id']}/", headers=spoof).status_code == 404
    assert athlete["id"] not in {a["id"] for a in second_lab.get("/api/v1/athletes/", headers=spoof).json()["results"]}
