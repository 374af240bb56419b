"""Writes for tokens: signing keys and their rotation, access tokens, refresh-token families, service tokens."""
from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt as pyjwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from servicekit.jwt import TOKEN_TYPE
from servicekit.principal import OPERATOR, SERVICE, Principal
from servicekit.problems import ProblemError

from ..accounts import actions as accounts, passwords
from ..accounts.queries import active_memberships_of, session_roles, user_by_email
from ..audit import actions as audit
from ..tenants import plans
from ..tenants.models import Tenant
from ..tenants.queries import tenant_by_slug_or_id, tenants_by_id
from . import crypto
from .models import RefreshToken, SigningKey
from .queries import refresh_token_by_hash

Kind = audit.Kind
State = SigningKey.State


# ---- signing keys ------------------------------------------------------------------------------------------------

def _create_key(state: str) -> SigningKey:
    kid, jwk, encrypted = crypto.new_key_pair()
    return SigningKey.objects.create(kid=kid, state=state, public_jwk=jwk, private_key_encrypted=encrypted)


def active_signing_key() -> SigningKey:
    """The key that signs now; a fresh install makes its first one here, on first use."""
    key = SigningKey.objects.filter(state=State.ACTIVE).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            key = _create_key(State.ACTIVE)
            audit.record(Kind.KEY_CREATED, actor="system", kid=key.kid)
            return key
    except IntegrityError:  # another process made the first key at the same moment: use theirs
        return SigningKey.objects.get(state=State.ACTIVE)


def retire_expired_keys(now=None) -> list[str]:
    """Passive keys past `retire_after` (every token they signed has expired) become retired."""
    now = now or timezone.now()
    kids = list(SigningKey.objects.filter(state=State.PASSIVE, retire_after__lte=now).values_list("kid", flat=True))
    if kids:
        SigningKey.objects.filter(kid__in=kids).update(state=State.RETIRED, retired_at=now)
        audit.record(Kind.KEY_RETIRED, actor="system", kids=kids)
    return kids


def rotate_signing_key(*, actor: str = "system") -> SigningKey:
    """A new active key; the previous one turns passive and stays in the JWKS until every token it signed has
    expired (access-token lifetime + verifier leeway), so a rotation logs nobody out."""
    now = timezone.now()
    keep_for = timedelta(seconds=settings.ACCESS_TOKEN_SECONDS + settings.JWT_LEEWAY_S)
    with transaction.atomic():
        retire_expired_keys(now)
        previous = list(SigningKey.objects.select_for_update().filter(state=State.ACTIVE))
        for key in previous:
            key.state, key.passive_since, key.retire_after = State.PASSIVE, now, now + keep_for
            key.save(update_fields=["state", "passive_since", "retire_after"])
        key = _create_key(State.ACTIVE)
        audit.record(Kind.KEY_ROTATED, actor=actor, kid=key.kid, previous=[k.kid for k in previous],
                     previous_retire_after=(now + keep_for).isoformat())
    return key


# ---- access tokens -----------------------------------------------------------------------------------------------

def issue_access_token(*, sub: str, tenant_id, roles: list[str], lifetime: int | None = None,
                       extra: dict | None = None) -> tuple[str, int]:
    """An RS256 access JWT (RFC 9068 `typ`), and its lifetime in seconds. A token acting for a tenant carries the
    tenant's `plan` (quotas, read-only from when: tenants.plans.claim) for the services that enforce it."""
    key = active_signing_key()
    now = int(timezone.now().timestamp())
    lifetime = lifetime or settings.ACCESS_TOKEN_SECONDS
    claims = {
        "iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, "sub": str(sub),
        "tid": str(tenant_id) if tenant_id else None, "roles": list(roles),
        "iat": now, "nbf": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **(extra or {}),
    }
    tenant = Tenant.objects.filter(id=tenant_id).first() if tenant_id else None
    if tenant is not None:
        claims["plan"] = plans.claim(tenant)
    token = pyjwt.encode(claims, crypto.private_key(key.kid, key.private_key_encrypted), algorithm="RS256",
                         headers={"kid": key.kid, "typ": TOKEN_TYPE})
    return token, lifetime


# ---- sessions (refresh-token families) ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int
    must_change_password: bool = False  # the access token then reaches POST /auth/password only

    def as_dict(self) -> dict:
        answer = {"access": self.access, "refresh": self.refresh, "token_type": "Bearer", "expires_in": self.expires_in}
        if self.must_change_password:
            answer["must_change_password"] = True
        return answer


class RefreshRefused(ProblemError):
    """One answer for an unknown, expired, revoked or reused refresh token."""

    def __init__(self):
        super().__init__(401, "invalid-refresh-token", "The refresh token is invalid, expired or revoked; log in again.")


def _new_refresh_token(user_id, tenant_id, family_id) -> str:
    raw = crypto.new_refresh_token()
    RefreshToken.objects.create(token_hash=crypto.token_hash(raw), family_id=family_id, user_id=user_id,
                                tenant_id=tenant_id,
                                expires_at=timezone.now() + timedelta(days=settings.REFRESH_TOKEN_DAYS))
    return raw


def _session_claims(user, family_id) -> dict:
    """`sid` names the refresh-token family (a password change keeps that session, ends the others). A user who must
    change their password gets the restricted audience: every verifier but POST /auth/password refuses it."""
    claims = {"sid": str(family_id)}
    if user.language:  # the profile's language (OIDC `locale`), for services choosing one for this user
        claims["locale"] = user.language
    if user.must_change_password:
        claims["aud"] = settings.PASSWORD_CHANGE_AUDIENCE
    return claims


def start_session(user, tenant_id, roles: list[str]) -> TokenPair:
    """A new refresh-token family and the first access token (after a successful login)."""
    family_id = uuid.uuid4()
    access, expires_in = issue_access_token(sub=user.id, tenant_id=tenant_id, roles=roles,
                                            extra=_session_claims(user, family_id))
    refresh = _new_refresh_token(user.id, tenant_id, family_id)
    return TokenPair(access, refresh, expires_in, must_change_password=user.must_change_password)


# Checks every login runs once the user is known and before tokens are issued, registered by folders above tokens
# (sso: "this tenant signs in by SSO only"): check(user, membership, method) raises a ProblemError to refuse.
_login_checks: list = []


def login_check(check):
    _login_checks.append(check)
    return check


def open_session(user, membership, *, method: str = "password") -> TokenPair:
    """The one way a verified user gets tokens (password login, SSO): the login checks, the audit row, the session
    for the membership's tenant (None: a platform operator without tenant)."""
    for check in _login_checks:
        check(user, membership, method)
    tenant_id = membership.tenant_id if membership else None
    roles = ([membership.role] if membership else []) + ([OPERATOR] if user.is_operator else [])
    audit.record(Kind.SSO_LOGIN if method == "sso" else Kind.LOGIN_SUCCEEDED, tenant_id=tenant_id,
                 actor=str(user.id), subject_user_id=user.id, method=method)
    return start_session(user, tenant_id, roles)


def log_in(email: str, password: str, tenant_slug: str | None = None) -> TokenPair:
    """Password login → an access/refresh pair for one tenant (or, for a platform operator without memberships,
    for none)."""
    user = accounts.authenticate(email, password)
    if user is None:
        raise accounts.InvalidCredentials()
    # From here on the password is verified: naming the user's own tenants reveals nothing secret.
    memberships = active_memberships_of(user.id)
    tenants = tenants_by_id(m.tenant_id for m in memberships)
    slugs = sorted(tenants[m.tenant_id].slug for m in memberships if m.tenant_id in tenants)
    if tenant_slug:
        chosen = [m for m in memberships if m.tenant_id in tenants and tenants[m.tenant_id].slug == tenant_slug.lower()]
        if not chosen:
            raise ProblemError(400, "tenant-required", "You are not an active member of that organisation; "
                               "choose one of yours.", tenants=slugs)
        membership = chosen[0]
    elif len(memberships) == 1:
        membership = memberships[0]
    elif len(memberships) > 1:
        raise ProblemError(400, "tenant-required", "This account belongs to several organisations; "
                           "say which one with `tenant`.", tenants=slugs)
    elif user.is_operator:
        membership = None
    else:
        raise ProblemError(403, "no-membership", "This account is not an active member of any organisation.")
    return open_session(user, membership, method="password")


def _revoke_family(family_id, now) -> int:
    return RefreshToken.objects.filter(family_id=family_id, revoked_at__isnull=True).update(revoked_at=now)


def refresh_session(raw: str) -> TokenPair:
    """Rotate: the presented token is used up and a new pair issued in the same family. Presenting a token that was
    already used means it was stolen (or the client is broken): the whole family is revoked, the newest token too."""
    now = timezone.now()
    with transaction.atomic():
        token = refresh_token_by_hash(crypto.token_hash(raw or ""), for_update=True)
        refused = token is None or token.revoked_at is not None or token.expires_at <= now
        if not refused and token.used_at is not None:
            revoked = _revoke_family(token.family_id, now)
            audit.record(Kind.TOKEN_REFRESH_REUSED, tenant_id=token.tenant_id, actor="anonymous",
                         subject_user_id=token.user_id, family_id=str(token.family_id), revoked=revoked)
            refused = True
        roles = None if refused else session_roles(token.user, token.tenant_id)
        if not refused and roles is None:  # user or membership deactivated since: the family ends
            _revoke_family(token.family_id, now)
            refused = True
        if not refused:
            token.used_at = now
            token.save(update_fields=["used_at"])
            access, expires_in = issue_access_token(sub=token.user_id, tenant_id=token.tenant_id, roles=roles,
                                                    extra=_session_claims(token.user, token.family_id))
            pair = TokenPair(access, _new_refresh_token(token.user_id, token.tenant_id, token.family_id), expires_in,
                             must_change_password=token.user.must_change_password)
    if refused:  # raised after the block: the revocation and the audit row commit
        raise RefreshRefused()
    return pair


def end_session(raw: str) -> None:
    """Logout: the presented token's whole family is revoked. Unknown tokens are ignored (nothing to reveal)."""
    now = timezone.now()
    with transaction.atomic():
        token = refresh_token_by_hash(crypto.token_hash(raw or ""), for_update=True)
        if token is None:
            return
        revoked = _revoke_family(token.family_id, now)
        if revoked:
            audit.record(Kind.LOGOUT, tenant_id=token.tenant_id, actor=str(token.user_id),
                         subject_user_id=token.user_id)


@accounts.when_access_ends
def revoke_user_tokens(user_id, tenant_id=None) -> int:
    """Revoke a user's live refresh tokens (in one tenant, or everywhere); returns how many."""
    tokens = RefreshToken.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if tenant_id is not None:
        tokens = tokens.filter(tenant_id=tenant_id)
    return tokens.update(revoked_at=timezone.now())


@accounts.when_password_changes
def revoke_other_sessions(user_id, keep_family=None) -> int:
    """A changed or reset password ends every session of the user except `keep_family` (the caller's own)."""
    tokens = RefreshToken.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if keep_family:
        tokens = tokens.exclude(family_id=keep_family)
    return tokens.update(revoked_at=timezone.now())


# ---- service tokens (client credentials) -------------------------------------------------------------------------

SERVICE_SUBJECT_PREFIX = "service:"


def issue_service_token(client_id: str, client_secret: str, tenant: str) -> dict:
    """An access token for a configured service client acting for one tenant: roles ["service"],
    sub "service:<client_id>". No refresh token: the client asks again."""
    expected = settings.SERVICE_CLIENTS.get(client_id)
    # Compare against something even for an unknown client, so timing does not tell which clients exist.
    matches = hmac.compare_digest((client_secret or "").encode(), (expected or secrets.token_hex(32)).encode())
    if expected is None or not matches:
        raise ProblemError(401, "invalid-client", "Unknown client or wrong secret.")
    tenant = tenant_by_slug_or_id(tenant)
    if tenant is None:
        raise ProblemError(404, "not-found", "No such tenant.")
    access, expires_in = issue_access_token(sub=SERVICE_SUBJECT_PREFIX + client_id, tenant_id=tenant.id,
                                            roles=[SERVICE])
    audit.record(Kind.SERVICE_TOKEN_ISSUED, tenant_id=tenant.id, actor=SERVICE_SUBJECT_PREFIX + client_id)
    return {"access": access, "token_type": "Bearer", "expires_in": expires_in}


def service_client_of(principal: Principal) -> str | None:
    if principal.is_service and principal.user_id.startswith(SERVICE_SUBJECT_PREFIX):
        return principal.user_id[len(SERVICE_SUBJECT_PREFIX):]
    return None


# ---- first start -------------------------------------------------------------------------------------------------

def bootstrap(*, name: str, slug: str, email: str, password: str | None, full_name: str = "",
              operator: bool = False, plan: str | None = None) -> tuple[Tenant | None, str | None]:
    """A signing key, and the first tenant and its owner when there is no tenant yet (idempotent). Returns (tenant,
    generated password): (None, None) when identity was set up already; the password is None unless one was
    generated here."""
    with transaction.atomic():
        active_signing_key()
        if Tenant.objects.exists():
            return None, None
        existing = user_by_email(email)
        generated = passwords.generate() if password is None and existing is None else None
        fields = {"plan": plan} if plan else {}
        tenant = accounts.create_tenant(by=None, name=name, slug=slug, owner_email=email, owner_full_name=full_name,
                                        owner_password=password or generated, **fields)
        if operator:
            accounts.make_operator(user_by_email(email))
        if generated:  # printed once on a console: the owner must replace it at the first login
            accounts.require_password_change(user_by_email(email))
    return tenant, generated


def remove_expired_refresh_tokens(keep_days: int) -> int:
    """Periodic: refresh tokens expired more than `keep_days` ago go (a token that old is refused anyway; the days
    kept let a late replay of a used one still be told apart in the audit trail)."""
    cutoff = timezone.now() - timedelta(days=keep_days)
    return RefreshToken.objects.filter(expires_at__lt=cutoff).delete()[0]
