"""identity's periodic jobs (servicekit.periodic, sent by identity's beat) against the real database (PostgreSQL and
SQLite): expired refresh tokens, password-reset tokens and invitations go after their keep period, live ones stay,
every tenant's invitations are reached under row-level security, and a second run finds nothing more."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from identity.accounts.models import PasswordReset
from identity.invitations.models import Invitation
from identity.tokens.models import RefreshToken
from servicekit import periodic
from servicekit.tenancy import tenant_transaction

from .conftest import login

pytestmark = pytest.mark.django_db(transaction=True)


def test_expired_refresh_and_reset_tokens_go_after_the_keep_period(make_tenant, settings):
    settings.EXPIRED_TOKENS_KEEP_DAYS = 7
    make_tenant("lab-a", "owner@lab-a.test")
    for _ in range(3):
        assert login("owner@lab-a.test").status_code == 200
    APIClient().post("/api/v1/auth/password/reset", {"email": "owner@lab-a.test"}, format="json")
    APIClient().post("/api/v1/auth/password/reset", {"email": "owner@lab-a.test"}, format="json")
    now = timezone.now()
    tokens = list(RefreshToken.objects.order_by("created_at"))
    RefreshToken.objects.filter(pk=tokens[0].pk).update(expires_at=now - dt.timedelta(days=8))
    RefreshToken.objects.filter(pk=tokens[1].pk).update(expires_at=now - dt.timedelta(days=6))  # kept a while yet
    resets = list(PasswordReset.objects.order_by("created_at"))
    assert len(resets) == 2
    PasswordReset.objects.filter(pk=resets[0].pk).update(expires_at=now - dt.timedelta(days=10))

    assert periodic.run("identity.refresh_tokens.remove_expired") == 1
    assert set(RefreshToken.objects.values_list("pk", flat=True)) == {tokens[1].pk, tokens[2].pk}
    assert periodic.run("identity.password_resets.remove_expired") == 1
    assert list(PasswordReset.objects.values_list("pk", flat=True)) == [resets[1].pk]
    assert periodic.run("identity.refresh_tokens.remove_expired") == 0  # idempotent
    assert periodic.run("identity.password_resets.remove_expired") == 0
    assert login("owner@lab-a.test").status_code == 200  # logins unaffected


def test_expired_invitations_of_every_tenant_go_accepted_ones_stay(make_tenant, session, settings):
    settings.EXPIRED_INVITATIONS_KEEP_DAYS = 30
    a, b = make_tenant("lab-a", "owner@lab-a.test"), make_tenant("lab-b", "owner@lab-b.test")
    made = {}
    for tenant, slug in ((a, "lab-a"), (b, "lab-b")):
        owner = session(f"owner@{slug}.test")
        for who in ("old", "recent", "accepted"):
            answer = owner.post("/api/v1/tenants/current/invitations/", {"email": f"{who}@{slug}.test",
                                                                         "role": "viewer"}, format="json")
            assert answer.status_code in (201, 202), answer.content
            made[(slug, who)] = answer.json()["id"]
    now = timezone.now()
    for tenant, slug in ((a, "lab-a"), (b, "lab-b")):
        with tenant_transaction(str(tenant.id)):
            Invitation.objects.filter(pk=made[(slug, "old")]).update(expires_at=now - dt.timedelta(days=31))
            Invitation.objects.filter(pk=made[(slug, "recent")]).update(expires_at=now - dt.timedelta(days=2))
            Invitation.objects.filter(pk=made[(slug, "accepted")]).update(
                expires_at=now - dt.timedelta(days=90), accepted_at=now - dt.timedelta(days=95))

    assert periodic.run("identity.invitations.remove_expired") == 2  # one per tenant, through RLS
    for tenant, slug in ((a, "lab-a"), (b, "lab-b")):
        with tenant_transaction(str(tenant.id)):
            assert set(map(str, Invitation.objects.values_list("pk", flat=True))) == {
                made[(slug, "recent")], made[(slug, "accepted")]}
    assert periodic.run("identity.invitations.remove_expired") == 0


def test_the_beat_schedule_names_registered_tasks(settings):
    from identity.celery import app

    app.loader.import_default_modules()
    assert set(app.conf.beat_schedule) == set(settings.PERIODIC_JOBS) <= set(app.tasks)
