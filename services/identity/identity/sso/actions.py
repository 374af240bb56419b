"""Single sign-on flows: configure a tenant's provider (owner/admin), start a sign-in, finish it at the callback,
and the login "discover" answer. One named home per step; tokens are issued by tokens.actions.open_session, the
function password login uses (its login checks — MFA, SSO-only tenants — apply to both)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from servicekit.principal import Principal
from servicekit.problems import ProblemError

from ..accounts import actions as accounts
from ..accounts.models import Membership, User
from ..accounts.queries import active_membership, normalize_email, user_by_email, user_by_id
from ..audit import actions as audit
from ..tenants.models import Tenant
from ..tenants.scope import tenant_scope
from ..tokens import actions as tokens
from ..tokens.crypto import token_hash
from . import crypto, oidc
from .models import SSOAttempt, SSODomain, SSOLink, SSOProvider
from .queries import email_domain, provider_of, routed_domain

Kind = audit.Kind


# ---- configuration (owner/admin of the tenant) -------------------------------------------------------------------

def configure(*, by: Principal, issuer: str, client_id: str, client_secret: str | None, scopes: str,
              email_domains: list[str], default_role: str, password_login_allowed: bool) -> SSOProvider:
    """Create or replace the caller's tenant's provider. The issuer's discovery document is read now (400 when it
    cannot be, or names another issuer); a domain routed to another tenant is 409; the secret is stored encrypted
    (omitted on a change: the stored one stays)."""
    tenant_id = by.tenant_id
    existing = provider_of(tenant_id)
    if existing is None and not client_secret:
        raise ProblemError(400, "validation-error", "client_secret: required when SSO is first configured",
                           errors=[{"field": "client_secret", "detail": "required when SSO is first configured"}])
    problem = oidc.check_issuer_url(issuer)
    if problem:
        raise ProblemError(400, "validation-error", f"issuer: {problem}", errors=[{"field": "issuer", "detail": problem}])
    if "openid" not in scopes.split():
        raise ProblemError(400, "validation-error", "scopes: must include openid",
                           errors=[{"field": "scopes", "detail": "must include openid"}])
    try:
        oidc.discovery(issuer, force=True)
    except oidc.ProviderError as exc:
        raise ProblemError(400, "sso-discovery-failed", f"The provider's discovery document could not be used: {exc}")
    domains = sorted({d.strip().lower().lstrip("@") for d in email_domains if d.strip()})
    taken = SSODomain.objects.filter(domain__in=domains).exclude(tenant_id=tenant_id).values_list("domain", flat=True)
    if taken:
        raise ProblemError(409, "sso-domain-taken", f"{sorted(taken)[0]} is routed to another organisation's sign-in.")
    fields = {"issuer": issuer, "client_id": client_id, "scopes": scopes, "default_role": default_role,
              "password_login_allowed": password_login_allowed}
    if client_secret:
        fields["client_secret_encrypted"] = crypto.encrypt(client_secret)
    try:
        with transaction.atomic():
            provider, created = SSOProvider.objects.select_for_update().update_or_create(tenant_id=tenant_id,
                                                                                       defaults=fields)
            SSODomain.objects.filter(provider=provider).exclude(domain__in=domains).delete()
            for domain in domains:
                SSODomain.objects.get_or_create(domain=domain, defaults={"provider": provider, "tenant_id": tenant_id})
            audit.record(Kind.SSO_CONFIGURED, tenant_id=tenant_id, by=by, issuer=issuer, domains=domains,
                         created=created, password_login_allowed=password_login_allowed)
    except IntegrityError as exc:  # two tenants claimed one domain at the same moment
        raise ProblemError(409, "sso-domain-taken", "An e-mail domain is routed to another organisation's "
                           "sign-in.") from exc
    return provider_of(tenant_id)


def remove(*, by: Principal) -> bool:
    provider = provider_of(by.tenant_id)
    if provider is None:
        return False
    with transaction.atomic():
        provider.delete()
        audit.record(Kind.SSO_REMOVED, tenant_id=by.tenant_id, by=by)
    return True


@tokens.login_check
def refuse_password_login_when_sso_only(user, membership, method: str) -> None:
    if method != "password" or membership is None:
        return
    provider = provider_of(membership.tenant_id)
    if provider is not None and not provider.password_login_allowed:
        raise ProblemError(403, "sso-required", "This organisation signs in with single sign-on only.",
                           sso_start=start_path(membership.tenant_id))


def start_path(tenant_id) -> str:
    tenant = Tenant.objects.filter(id=tenant_id).first()
    return f"/api/v1/auth/sso/{tenant.slug}/start" if tenant else ""


# ---- discover ----------------------------------------------------------------------------------------------------

def discover(email: str) -> dict:
    """Whether this address signs in by SSO. Decided by the address's domain alone, so the answer is the same for an
    unknown address as for a known one of that domain (nothing about accounts is revealed)."""
    routed = routed_domain(email_domain(email))
    if routed is None:
        return {"method": "password"}
    tenant = Tenant.objects.filter(id=routed.tenant_id).first()
    if tenant is None:
        return {"method": "password"}
    return {"method": "sso", "tenant": tenant.slug, "start_url": f"/api/v1/auth/sso/{tenant.slug}/start",
            "password_login_allowed": routed.provider.password_login_allowed}


# ---- start -------------------------------------------------------------------------------------------------------

class NotConfigured(ProblemError):
    def __init__(self):
        super().__init__(404, "sso-not-configured", "This organisation has no single sign-on.")


def start(tenant_slug: str, *, login_hint: str | None = None) -> str:
    """A new single-use state, nonce and PKCE verifier (stored, short-lived); the provider's authorization URL."""
    tenant = Tenant.objects.filter(slug=(tenant_slug or "").lower()).first()
    provider = provider_of(tenant.id) if tenant else None
    if provider is None:
        raise NotConfigured()
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    try:
        url = oidc.authorization_url(provider, crypto.decrypt(provider.client_secret_encrypted), state=state,
                                     nonce=nonce, code_verifier=verifier, login_hint=login_hint)
    except oidc.ProviderError as exc:
        raise ProblemError(502, "sso-provider-unavailable", f"The sign-in provider cannot be reached: {exc}") from exc
    SSOAttempt.objects.create(state_hash=token_hash(state), tenant_id=tenant.id, nonce=nonce, code_verifier=verifier,
                              expires_at=timezone.now() + timedelta(seconds=settings.SSO_STATE_TTL_S))
    return url


# ---- callback ----------------------------------------------------------------------------------------------------

class StateInvalid(ProblemError):
    """One answer for an unknown, used (replayed) or expired state."""

    def __init__(self):
        super().__init__(400, "sso-state-invalid", "This sign-in is not valid any more (unknown, used or expired); "
                         "start again.")


class SignInRefused(ProblemError):
    def __init__(self, detail: str, slug: str = "sso-refused", status: int = 401):
        super().__init__(status, slug, detail)


def _use_attempt(state: str) -> SSOAttempt:
    """The attempt `state` names, used up now (in its own transaction: a replay is refused even when this sign-in
    fails later)."""
    with transaction.atomic():
        attempt = SSOAttempt.objects.select_for_update().filter(state_hash=token_hash(state or "")).first()
        if attempt is None or attempt.used_at is not None or attempt.expires_at <= timezone.now():
            raise StateInvalid()
        attempt.used_at = timezone.now()
        attempt.save(update_fields=["used_at"])
    return attempt


def _refuse(tenant_id, reason: str, exc: ProblemError):
    audit.record(Kind.SSO_REFUSED, tenant_id=tenant_id, actor="anonymous", reason=reason)
    raise exc


@dataclass(frozen=True)
class SignedIn:
    user: User
    membership: Membership
    provisioned: bool
    tokens: tokens.TokenPair


def finish(*, state: str, code: str | None, error: str | None = None, iss: str | None = None) -> SignedIn:
    """The provider sent the browser back: the state is used up, the code exchanged (with the PKCE verifier), the ID
    token verified, the user found (link, or a verified e-mail) or provisioned, and our own tokens issued."""
    attempt = _use_attempt(state)
    tenant_id = attempt.tenant_id
    provider = provider_of(tenant_id)
    if provider is None:
        _refuse(tenant_id, "not-configured", NotConfigured())
    if iss is not None and iss != provider.issuer:  # RFC 9207: the answer came from another provider (mix-up)
        _refuse(tenant_id, "issuer-mismatch", SignInRefused("The sign-in answer names another provider (iss)."))
    if error or not code:
        _refuse(tenant_id, "provider-error", SignInRefused(f"The provider did not sign you in ({(error or 'no code')[:100]})."))
    secret = crypto.decrypt(provider.client_secret_encrypted)
    try:
        answer = oidc.exchange_code(provider, secret, code=code, code_verifier=attempt.code_verifier)
        claims = oidc.verify_id_token(provider, answer["id_token"], nonce=attempt.nonce,
                                      access_token=answer.get("access_token"))
    except oidc.ProviderError as exc:
        _refuse(tenant_id, "provider-error", SignInRefused(f"The sign-in with the provider failed: {exc}"))
    except oidc.IdTokenRefused as exc:
        _refuse(tenant_id, "id-token", SignInRefused(f"The provider's ID token was refused: {exc.reason}.",
                                                     "sso-id-token-invalid"))
    email = normalize_email(claims.get("email"))
    if not email or claims.get("email_verified") is not True:
        _refuse(tenant_id, "email-unverified", SignInRefused(
            "The provider does not vouch for this e-mail address (email_verified); it cannot be used to sign in.",
            "sso-email-unverified", 403))
    routed = routed_domain(email_domain(email))
    if routed is not None and routed.tenant_id != tenant_id:
        _refuse(tenant_id, "domain-elsewhere", SignInRefused(
            "This e-mail domain signs in to another organisation.", "sso-domain-mismatch", 403))
    try:
        with transaction.atomic():
            user, membership, provisioned = _member_for(provider, claims, email, own_domain=routed is not None)
            pair = tokens.open_session(user, membership, method="sso")
    except ProblemError as exc:  # rolled back: nobody provisioned, nothing linked; the refusal is recorded
        _refuse(tenant_id, exc.slug, exc)
    return SignedIn(user, membership, provisioned, pair)


def _member_for(provider: SSOProvider, claims: dict, email: str, *, own_domain: bool):
    """(user, membership, provisioned): the linked user; else the account with this verified e-mail, linked now;
    a member of the tenant keeps their role; an address of one of the tenant's domains joins with the default role
    (a new account has no password: it signs in by SSO only)."""
    tenant_id = provider.tenant_id
    link = SSOLink.objects.filter(tenant_id=tenant_id, issuer=provider.issuer, subject=str(claims["sub"])).first()
    user = user_by_id(link.user_id) if link else user_by_email(email)
    if user is not None and not user.is_active:
        raise SignInRefused("This account is deactivated.", "sso-refused", 403)
    membership = active_membership(user.id, tenant_id) if user else None
    provisioned = False
    if membership is None:
        with tenant_scope(tenant_id):
            former = Membership.objects.filter(tenant_id=tenant_id, user=user).exists() if user else False
        if former:  # a deactivated member is not let back in by the provider
            raise SignInRefused("Your membership in this organisation was ended; ask an owner or admin.",
                                "no-membership", 403)
        if not own_domain:
            raise SignInRefused("This address is not a member here and not of a domain this organisation signs in.",
                                "no-membership", 403)
        if user is None:
            user = accounts.create_user(email, None, full_name=str(claims.get("name") or "")[:200])
        membership = accounts.add_member(tenant_id, by=None, email=email, role=provider.default_role,
                                         provisioned_by="sso", actor="sso")
        provisioned = True
    if link is None:
        SSOLink.objects.create(tenant_id=tenant_id, issuer=provider.issuer, subject=str(claims["sub"]), user=user)
        audit.record(Kind.SSO_LINKED, tenant_id=tenant_id, actor="sso", subject_user_id=user.id,
                     provisioned=provisioned)
    return user, membership, provisioned
