"""In-app notifications: the caller's own, cursor pages, unread filter, mark read; others' ids are 404."""
import uuid

import pytest

from servicekit.tenancy import tenant_transaction

from notifications.inapp.actions import notify

pytestmark = pytest.mark.django_db(transaction=True)


def make(tenant, user, n=1, **kw):
    with tenant_transaction(tenant):
        return [notify(tenant_id=tenant, user_id=user, kind="test", title=f"n{i}", **kw) for i in range(n)]


def test_a_user_lists_only_their_own_notifications_in_cursor_pages(caller, tenant_a):
    me = caller(tenant_a, "physiologist")
    make(tenant_a, me.user_id, 5)
    make(tenant_a, str(uuid.uuid4()), 2)  # a colleague's
    page = me.get("/api/v1/notifications/?page_size=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"]
    titles = [n["title"] for n in page["results"]]
    while page["next"]:
        page = me.client.get(page["next"]).json()
        titles += [n["title"] for n in page["results"]]
    assert sorted(titles) == [f"n{i}" for i in range(5)]


def test_mark_read_and_filter_unread(caller, tenant_a):
    me = caller(tenant_a, "viewer")
    first, second = make(tenant_a, me.user_id, 2)
    response = me.post(f"/api/v1/notifications/{first.id}/read")
    assert response.status_code == 200 and response.json()["read"] is True and response.json()["read_at"]
    assert me.post(f"/api/v1/notifications/{first.id}/read").status_code == 200  # idempotent
    unread = me.get("/api/v1/notifications/?unread=true").json()["results"]
    assert [n["id"] for n in unread] == [str(second.id)]
    read = me.get("/api/v1/notifications/?unread=false").json()["results"]
    assert [n["id"] for n in read] == [str(first.id)]


def test_another_users_or_tenants_notification_is_404(caller, tenant_a, tenant_b):
    owner = caller(tenant_a)
    [mine] = make(tenant_a, owner.user_id)
    colleague = caller(tenant_a, "admin")
    assert colleague.get(f"/api/v1/notifications/{mine.id}/").status_code == 404
    assert colleague.post(f"/api/v1/notifications/{mine.id}/read").status_code == 404
    stranger = caller(tenant_b, user_id=owner.user_id)  # same user id, other tenant
    response = stranger.post(f"/api/v1/notifications/{mine.id}/read")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert stranger.get("/api/v1/notifications/").json()["results"] == []
    assert owner.get(f"/api/v1/notifications/{mine.id}/").json()["read"] is False


def test_no_token_is_401(client):
    assert client.get("/api/v1/notifications/").status_code == 401
