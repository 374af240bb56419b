"""Reads of invitations."""
from __future__ import annotations

from contextlib import contextmanager

from servicekit.tenancy import database_alias_for

from ..tenants.scope import transaction_setting
from .models import INVITATION_TOKEN_SETTING, Invitation


@contextmanager
def invitation_token_scope(token_hash: str):
    """Let this transaction read the one invitation whose token hashes to `token_hash` (in whatever tenant): the
    SELECT-only policy `invitation_by_token` (models.AllowInvitationByTokenRead) admits it."""
    with transaction_setting(database_alias_for(None), INVITATION_TOKEN_SETTING, token_hash):
        yield


def tenant_invitations():
    """Invitations of the request's tenant (the TenantManager scopes `objects`; RLS enforces it)."""
    return Invitation.objects.all()


def with_status(queryset, status: str, now):
    S = Invitation.Status
    if status == S.ACCEPTED:
        return queryset.filter(accepted_at__isnull=False)
    if status == S.REVOKED:
        return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=False)
    if status == S.EXPIRED:
        return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lte=now)
    if status == S.PENDING:
        return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)
    return queryset


def invitation_by_token_hash(token_hash: str) -> Invitation | None:
    """The invitation a token names, in whatever tenant (public accept: the token is the credential). It uses the
    `all_tenants` manager on purpose, narrowed to one hash, and RLS admits that row only."""
    with invitation_token_scope(token_hash):
        return Invitation.all_tenants.filter(token_hash=token_hash).first()
