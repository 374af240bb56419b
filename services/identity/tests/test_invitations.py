"""Invitations: create (event with the raw token in the outbox, only its hash in the database), accept, the token's
problems, rollback, the role/tenant matrix, idempotency, and the relay that publishes identity's outbox."""
import hashlib
import json
import time
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from kombu import Queue
from rest_framework.test import APIClient

from servicekit.events import broker, contracts
from servicekit.events.models import OutboxEvent

from identity.audit.models import AuditEvent
from identity.tenants.scope import tenant_scope
from identity.invitations.models import Invitation

from .conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)

INVITATIONS = "/api/v1/tenants/current/invitations/"
ACCEPT = "/api/v1/auth/invitations/accept"
CREATED, ACCEPTED, USER_CREATED = "identity.invitation.created", "identity.invitation.accepted", "identity.user.created"


@pytest.fixture
def lab(make_tenant, add_member, session):
    """lab-a (language ru) with an owner and an admin, logged in."""
    tenant = make_tenant("lab-a", "owner@lab-a.test", settings={"language": "ru"})
    add_member(tenant, "admin@lab-a.test", "admin")

    class Lab:
        id = tenant.id
        name = tenant.name
        owner = session("owner@lab-a.test")
        admin = session("admin@lab-a.test")
    return Lab


def events(event_type):
    return [json.loads(body) for body in
            OutboxEvent.objects.filter(type=event_type).order_by("id").values_list("body", flat=True)]


def invite(client, email="new@lab-a.test", role="physiologist", **headers):
    return client.post(INVITATIONS, {"email": email, "role": role}, format="json", **headers)


def token_of(invitation_id):
    """The raw token, as notifications gets it: from the event."""
    (envelope,) = [e for e in events(CREATED) if e["subject"] == invitation_id]
    return envelope["data"]["accept_token"]


def stored(tenant_id):
    with transaction.atomic(), tenant_scope(tenant_id):
        return list(Invitation.objects.order_by("created_at"))


def accept(token, password="invitee-password-77", **extra):
    return APIClient().post(ACCEPT, {"token": token, "password": password, **extra}, format="json")


def problem_type(response):
    assert response["Content-Type"] == "application/problem+json", response.content
    return response.json()["type"].removeprefix("urn:vo2:problem:")


def user_id_of(client):
    return jwt.decode(client.tokens["access"], options={"verify_signature": False})["sub"]


# ---- create ------------------------------------------------------------------------------------------------------

def test_create_writes_a_schema_valid_event_with_the_raw_token_and_stores_only_its_hash(lab):
    before = datetime.now(timezone.utc)
    created = invite(lab.admin, "Nina@Lab-A.test", "physiologist")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["email"] == "nina@lab-a.test" and body["role"] == "physiologist" and body["status"] == "pending"
    assert body["invited_by"] == user_id_of(lab.admin)
    assert not any("token" in key for key in body)

    (envelope,) = events(CREATED)
    assert envelope["subject"] == body["id"] and envelope["tenantid"] == str(lab.id)
    assert envelope["source"] == "/vo2max/identity"
    assert envelope["dataschema"] == "urn:vo2max:events:identity.invitation.created.v1"
    data = envelope["data"]
    contracts.validate(CREATED, 1, data)  # raises on any contract violation
    token = data["accept_token"]
    assert len(token) >= 40
    assert data["accept_url"] == f"http://127.0.0.1:8000/accept-invitation?token={token}"
    assert data["invitation_id"] == body["id"] and data["tenant_id"] == str(lab.id)
    assert data["email"] == "nina@lab-a.test" and data["role"] == "physiologist"
    assert data["language"] == "ru" and data["tenant_name"] == lab.name
    assert data["invited_by"] == user_id_of(lab.admin) and data["invited_by_name"] == "admin@lab-a.test"
    expires = datetime.fromisoformat(data["expires_at"])
    assert before + timedelta(hours=72) - timedelta(seconds=5) <= expires <= before + timedelta(hours=72, seconds=60)

    (row,) = stored(lab.id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with transaction.atomic(), tenant_scope(lab.id):
        columns = json.dumps(list(Invitation.objects.values_list()), default=str)
    audit = json.dumps(list(AuditEvent.objects.values_list("data", flat=True)), default=str)
    assert token not in columns and token not in audit
    kinds = list(AuditEvent.objects.filter(tenant_id=lab.id).values_list("kind", flat=True))
    assert "invitation.created" in kinds


def test_expiry_and_link_come_from_the_settings(lab, settings):
    settings.INVITATION_TTL_HOURS = 2  # INVITATION_TTL_HOURS, PUBLIC_APP_URL in the environment
    settings.PUBLIC_APP_URL = "https://app.vo2.example"
    created = invite(lab.owner)
    assert created.status_code == 201
    data = events(CREATED)[0]["data"]
    assert data["accept_url"] == "https://app.vo2.example/accept-invitation?token=" + data["accept_token"]
    expires = datetime.fromisoformat(data["expires_at"])
    assert timedelta(hours=1, minutes=59) < expires - datetime.now(timezone.utc) <= timedelta(hours=2)


def test_an_active_member_cannot_be_invited_but_a_former_one_can(lab, session):
    again = invite(lab.owner, "Admin@lab-a.test", "viewer")
    assert again.status_code == 409 and problem_type(again) == "already-a-member"
    members = lab.owner.get("/api/v1/tenants/current/members/?email=admin@lab-a.test").json()["results"]
    assert lab.owner.delete(f"/api/v1/tenants/current/members/{members[0]['id']}/").status_code == 204
    assert invite(lab.owner, "admin@lab-a.test", "viewer").status_code == 201
    assert len(stored(lab.id)) == 1 and len(events(CREATED)) == 1


def test_an_invitation_whose_event_cannot_be_written_is_not_stored(lab, monkeypatch):
    from identity.invitations import actions

    # A link the contract refuses (accept_url: maxLength 2000): publish() raises inside the transaction.
    monkeypatch.setattr(actions, "accept_url", lambda raw: "https://app.vo2.example/" + "x" * 2000)
    lab.owner.raise_request_exception = False
    failed = invite(lab.owner)
    assert failed.status_code == 500
    assert stored(lab.id) == [] and events(CREATED) == []
    assert not AuditEvent.objects.filter(kind="invitation.created").exists()
    monkeypatch.undo()
    assert invite(lab.owner).status_code == 201 and len(stored(lab.id)) == 1 and len(events(CREATED)) == 1


# ---- accept ------------------------------------------------------------------------------------------------------

def test_a_new_user_accepts_gets_a_session_for_the_role_and_can_log_in(lab, session):
    created = invite(lab.admin, "nina@lab-a.test", "physiologist").json()
    answer = accept(token_of(created["id"]), full_name="Nina Petrova")
    assert answer.status_code == 201, answer.content
    pair = answer.json()
    assert set(pair) == {"access", "refresh", "token_type", "expires_in"} and pair["token_type"] == "Bearer"
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    assert claims["tid"] == str(lab.id) and claims["roles"] == ["physiologist"]

    me = session("nina@lab-a.test", "invitee-password-77").get("/api/v1/auth/me").json()
    assert me["user"]["full_name"] == "Nina Petrova" and me["roles"] == ["physiologist"]
    assert me["tenant"]["id"] == str(lab.id)

    (envelope,) = events(ACCEPTED)
    contracts.validate(ACCEPTED, 1, envelope["data"])
    data = envelope["data"]
    assert envelope["subject"] == created["id"] and envelope["tenantid"] == str(lab.id)
    assert data["invited_by"] == user_id_of(lab.admin) and data["user_id"] == me["user"]["id"]
    assert data["role"] == "physiologist" and data["email"] == "nina@lab-a.test"
    assert data["user_name"] == "Nina Petrova" and data["language"] == "ru"

    joined = [e for e in events(USER_CREATED) if e["data"]["user_id"] == me["user"]["id"]]
    assert len(joined) == 1 and joined[0]["data"]["provisioned_by"] == "invitation"
    contracts.validate(USER_CREATED, 1, joined[0]["data"])

    listed = lab.owner.get(INVITATIONS).json()["results"]
    assert listed[0]["status"] == "accepted" and listed[0]["accepted_user_id"] == me["user"]["id"]
    kinds = set(AuditEvent.objects.filter(tenant_id=lab.id).values_list("kind", flat=True))
    assert {"invitation.created", "invitation.accepted", "member.added"} <= kinds


def test_an_existing_user_accepts_with_their_current_password(lab, make_tenant):
    make_tenant("lab-b", "boris@lab-b.test")
    token = token_of(invite(lab.owner, "boris@lab-b.test", "viewer").json()["id"])

    wrong = accept(token, password="not-his-password-1")
    assert wrong.status_code == 401 and problem_type(wrong) == "invalid-credentials"
    assert login("boris@lab-b.test", PASSWORD, tenant="lab-a").status_code == 400  # no membership yet
    assert AuditEvent.objects.filter(kind="login.failed", data__reason="wrong-password").exists()  # counted

    answer = accept(token, password=PASSWORD, full_name="Someone Else")
    assert answer.status_code == 201
    claims = jwt.decode(answer.json()["access"], options={"verify_signature": False})
    assert claims["tid"] == str(lab.id) and claims["roles"] == ["viewer"]
    assert login("boris@lab-b.test", PASSWORD, tenant="lab-a").status_code == 200
    assert login("boris@lab-b.test", PASSWORD, tenant="lab-b").status_code == 200
    from identity.accounts.queries import user_by_email

    assert user_by_email("boris@lab-b.test").full_name == ""  # an existing account keeps its name


def test_a_used_unknown_expired_or_revoked_token_is_refused(lab, clock):
    used = token_of(invite(lab.owner, "used@lab-a.test").json()["id"])
    assert accept(used).status_code == 201
    again = accept(used)
    assert again.status_code == 409 and problem_type(again) == "invitation-used"

    unknown = accept("x" * 43)
    assert unknown.status_code == 404 and problem_type(unknown) == "invitation-not-found"

    revoked_id = invite(lab.owner, "revoked@lab-a.test").json()["id"]
    assert lab.admin.delete(f"{INVITATIONS}{revoked_id}/").status_code == 204
    revoked = accept(token_of(revoked_id))
    assert revoked.status_code == 410 and problem_type(revoked) == "invitation-expired"
    assert "revoked" not in revoked.json()["detail"]

    late = token_of(invite(lab.owner, "late@lab-a.test").json()["id"])
    clock.advance(hours=72, seconds=1)
    expired = accept(late)
    assert expired.status_code == 410 and problem_type(expired) == "invitation-expired"

    for email in ("revoked@lab-a.test", "late@lab-a.test"):
        assert login(email, "invitee-password-77").status_code == 401  # no account was made
    assert len(events(ACCEPTED)) == 1


def test_a_weak_password_is_refused_and_the_invitation_stays_usable(lab):
    token = token_of(invite(lab.owner).json()["id"])
    weak = accept(token, password="12345")
    assert weak.status_code == 400 and {e["field"] for e in weak.json()["errors"]} == {"password"}
    assert events(ACCEPTED) == [] and stored(lab.id)[0].accepted_at is None
    assert accept(token).status_code == 201


def test_revoke_is_idempotent_but_an_accepted_invitation_cannot_be_revoked(lab):
    pending = invite(lab.owner, "p@lab-a.test").json()["id"]
    assert lab.owner.delete(f"{INVITATIONS}{pending}/").status_code == 204
    assert lab.owner.delete(f"{INVITATIONS}{pending}/").status_code == 204
    assert lab.owner.get(f"{INVITATIONS}{pending}/").json()["status"] == "revoked"
    assert AuditEvent.objects.filter(kind="invitation.revoked").count() == 1

    done = invite(lab.owner, "d@lab-a.test").json()["id"]
    accept(token_of(done))
    refused = lab.owner.delete(f"{INVITATIONS}{done}/")
    assert refused.status_code == 409 and problem_type(refused) == "invitation-used"


# ---- who may ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["physiologist", "athlete", "viewer"])
def test_other_roles_may_not_touch_invitations(lab, add_member, session, role):
    from identity.tenants.models import Tenant

    add_member(Tenant.objects.get(slug="lab-a"), f"{role}@lab-a.test", role)
    caller = session(f"{role}@lab-a.test")
    some = invite(lab.owner).json()["id"]
    for response in (caller.get(INVITATIONS), caller.get(f"{INVITATIONS}{some}/"),
                     invite(caller, "x@lab-a.test", "viewer"), caller.delete(f"{INVITATIONS}{some}/")):
        assert response.status_code == 403, response.content
        assert problem_type(response) == "forbidden"
    assert lab.owner.get(f"{INVITATIONS}{some}/").json()["status"] == "pending"
    assert len(stored(lab.id)) == 1


def test_another_tenants_invitation_is_404_and_never_listed(lab, make_tenant, session):
    make_tenant("lab-b", "boris@lab-b.test")
    boris = session("boris@lab-b.test")
    theirs = invite(lab.owner).json()["id"]
    assert boris.get(f"{INVITATIONS}{theirs}/").status_code == 404
    assert boris.delete(f"{INVITATIONS}{theirs}/").status_code == 404
    assert boris.get(INVITATIONS).json()["results"] == []
    assert lab.owner.get(f"{INVITATIONS}{theirs}/").json()["status"] == "pending"
    mine = invite(boris, "x@lab-b.test").json()["id"]
    assert [i["id"] for i in boris.get(INVITATIONS).json()["results"]] == [mine]
    assert [i["id"] for i in lab.owner.get(INVITATIONS).json()["results"]] == [theirs]


def test_only_an_owner_invites_an_owner_or_revokes_such_an_invitation(lab):
    refused = invite(lab.admin, "boss@lab-a.test", "owner")
    assert refused.status_code == 403 and stored(lab.id) == []
    created = invite(lab.owner, "boss@lab-a.test", "owner")
    assert created.status_code == 201
    assert lab.admin.delete(f"{INVITATIONS}{created.json()['id']}/").status_code == 403
    answer = accept(token_of(created.json()["id"]))
    assert jwt.decode(answer.json()["access"], options={"verify_signature": False})["roles"] == ["owner"]


def test_invitations_list_in_cursor_pages_with_a_status_filter(lab, clock):
    ids = [invite(lab.owner, f"p{i}@lab-a.test").json()["id"] for i in range(3)]
    lab.owner.delete(f"{INVITATIONS}{ids[0]}/")
    page = lab.admin.get(INVITATIONS + "?page_size=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"]
    seen = [i["id"] for i in page["results"]] + [i["id"] for i in lab.admin.get(page["next"]).json()["results"]]
    assert sorted(seen) == sorted(ids)
    assert [i["id"] for i in lab.admin.get(INVITATIONS + "?status=revoked").json()["results"]] == [ids[0]]
    assert len(lab.admin.get(INVITATIONS + "?status=pending").json()["results"]) == 2
    clock.advance(hours=73)
    assert len(lab.admin.get(INVITATIONS + "?status=expired").json()["results"]) == 2
    assert lab.admin.get(INVITATIONS + "?status=pending").json()["results"] == []


# ---- idempotency -------------------------------------------------------------------------------------------------

def test_the_same_idempotency_key_answers_with_the_same_invitation(lab):
    first = invite(lab.admin, HTTP_IDEMPOTENCY_KEY="k-1")
    second = invite(lab.admin, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"] and second["Idempotent-Replayed"] == "true"
    assert len(stored(lab.id)) == 1 and len(events(CREATED)) == 1

    other_body = invite(lab.admin, "someone-else@lab-a.test", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other_body.status_code == 422 and problem_type(other_body) == "idempotency-key-reused"
    other_user = invite(lab.owner, HTTP_IDEMPOTENCY_KEY="k-1")  # keys are the caller's own
    assert other_user.status_code == 201 and other_user.json()["id"] != first.json()["id"]
    too_long = invite(lab.admin, HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert too_long.status_code == 400
    assert len(stored(lab.id)) == 2 and len(events(CREATED)) == 2


# ---- identity.user.created ---------------------------------------------------------------------------------------

def test_every_new_membership_publishes_user_created(lab):
    owner_joined = [e["data"] for e in events(USER_CREATED) if e["data"]["email"] == "owner@lab-a.test"]
    assert owner_joined[0]["roles"] == ["owner"] and owner_joined[0]["provisioned_by"] == "operator"
    created = lab.owner.post("/api/v1/tenants/current/members/", {"email": "m@lab-a.test", "role": "viewer"},
                             format="json")
    assert created.status_code == 202
    assert [e for e in events(USER_CREATED) if e["data"]["email"] == "m@lab-a.test"] == []  # not before accepting
    assert accept(token_of(created.json()["id"]), password=PASSWORD, full_name="Mia").status_code == 201
    (joined,) = [e for e in events(USER_CREATED) if e["data"]["email"] == "m@lab-a.test"]
    contracts.validate(USER_CREATED, 1, joined["data"])
    user_id = lab.owner.get("/api/v1/tenants/current/members/?email=m@lab-a.test").json()["results"][0]["user_id"]
    assert joined["data"] == {"user_id": user_id, "tenant_id": str(lab.id),
                              "email": "m@lab-a.test", "roles": ["viewer"], "name": "Mia", "language": "ru",
                              "provisioned_by": "invitation"}
    assert joined["tenantid"] == str(lab.id)


def test_bootstrap_publishes_user_created():
    call_command("bootstrap", "--tenant-name", "Sports Lab", "--slug", "sports-lab", "--email", "head@lab.test",
                 "--password", PASSWORD)
    (joined,) = events(USER_CREATED)
    assert joined["data"]["email"] == "head@lab.test" and joined["data"]["roles"] == ["owner"]


# ---- the relay ---------------------------------------------------------------------------------------------------

def test_run_relay_publishes_identitys_outbox(lab):
    """`manage.py run_relay` on this service's database (SQLite or PostgreSQL), to the local-mode broker."""
    invite(lab.owner)
    with broker.connection() as conn:
        channel = conn.channel()
        broker.EVENTS_EXCHANGE(channel).declare()
        queue = Queue(f"identity-test-{connection.vendor}-{time.monotonic_ns()}", broker.EVENTS_EXCHANGE,
                      routing_key="identity.#")(channel)
        queue.declare()
        pending = OutboxEvent.objects.filter(sent_at__isnull=True).count()
        assert pending >= 3  # user.created ×2 (owner, admin), invitation.created

        call_command("run_relay", "--until-idle")

        assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 0
        got = []
        deadline = time.monotonic() + 10
        while len(got) < pending and time.monotonic() < deadline:
            message = queue.get(no_ack=True)
            if message is None:
                time.sleep(0.05)
                continue
            got.append(json.loads(message.body))
    assert len(got) == pending
    assert {e["type"] for e in got} == {USER_CREATED, CREATED}
    (sent,) = [e for e in got if e["type"] == CREATED]
    assert sent["data"]["accept_token"] and sent["tenantid"] == str(lab.id)


# ---- row-level security ------------------------------------------------------------------------------------------

@pytest.mark.postgres_only
def test_raw_sql_sees_a_tenants_invitations_or_the_one_a_token_names(lab, make_tenant, session):
    from django.db.utils import ProgrammingError

    from identity.invitations.queries import invitation_token_scope

    make_tenant("lab-b", "boris@lab-b.test")
    invite(lab.owner, "a1@lab-a.test")
    invite(session("boris@lab-b.test"), "b1@lab-b.test")
    b_token = events(CREATED)[-1]["data"]["accept_token"]
    b_hash = hashlib.sha256(b_token.encode()).hexdigest()

    def emails(scope=None):
        with transaction.atomic(), scope or nullcontext(), connection.cursor() as cursor:
            cursor.execute("SELECT email FROM invitation ORDER BY 1")
            return [r[0] for r in cursor.fetchall()]

    assert emails() == []
    assert emails(tenant_scope(lab.id)) == ["a1@lab-a.test"]
    assert emails(invitation_token_scope(b_hash)) == ["b1@lab-b.test"]
    assert emails(invitation_token_scope("0" * 64)) == []
    with transaction.atomic(), invitation_token_scope(b_hash), connection.cursor() as cursor:
        cursor.execute("UPDATE invitation SET role = 'owner' WHERE token_hash = %s", [b_hash])
        assert cursor.rowcount == 0  # readable by its token, not writable
    with pytest.raises(ProgrammingError, match="row-level security"):
        with transaction.atomic(), tenant_scope(lab.id), connection.cursor() as cursor:
            cursor.execute("INSERT INTO invitation (id, tenant_id, email, role, token_hash, invited_by, expires_at, "
                           "revoked_by, request_fingerprint, created_at, updated_at) VALUES (gen_random_uuid(), "
                           "gen_random_uuid(), 'x@x.test', 'owner', 'h', gen_random_uuid(), now(), '', '', now(), "
                           "now())")
