"""Two-factor sign-in (TOTP, RFC 6238, with pyotp): enrolment, confirmation with recovery codes, disabling with a
fresh code, and the login's second step.

Login: once the password matched (tokens' login checks, method "password"), a user with a confirmed authenticator
gets 401 `mfa-required` with a single-use `challenge` (MFA_CHALLENGE_TTL_S); POST /auth/login/mfa with it and a code
(or a recovery code) opens the session. A tenant may require a second factor for some roles
(`settings.mfa_required_roles`, e.g. ["owner", "admin"]): such a member without one gets 403
`mfa-enrolment-required` with a challenge of purpose `enrol`, sets the authenticator up with it
(POST /auth/login/mfa/enrol) and finishes the login with its first code (POST /auth/login/mfa), which also answers
the recovery codes. Wrong codes count towards a lock exactly as wrong passwords do (LOGIN_MAX_FAILURES within
LOGIN_LOCKOUT_S); while locked every code is refused with the same answer."""
from __future__ import annotations

import base64
import functools
import hashlib
import secrets
from datetime import timedelta

import pyotp
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from servicekit.problems import ProblemError

from ..accounts.queries import active_membership, user_by_id
from ..audit import actions as audit
from ..tenants.models import Tenant
from ..tokens import actions as tokens
from .models import LoginChallenge, RecoveryCode, TotpDevice

Kind = audit.Kind
ISSUER = "VO2max Report"
RECOVERY_CODES = 10
STEP_S = 30


# ---- the secret at rest --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"vo2max-identity", info=b"totp-secret").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _seal(secret: str) -> str:
    return _fernet(settings.SIGNING_KEY_SECRET).encrypt(secret.encode()).decode("ascii")


def _open(sealed: str) -> str:
    return _fernet(settings.SIGNING_KEY_SECRET).decrypt(sealed.encode("ascii")).decode()


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _recovery_digest(user_id, code: str) -> str:
    return _digest(f"{user_id}:{code.strip().lower().replace('-', '')}")


# ---- problems ------------------------------------------------------------------------------------------------------

class CodeRefused(ProblemError):
    """One answer for a wrong, replayed or expired code and a locked account."""

    def __init__(self):
        super().__init__(401, "invalid-mfa-code", "The code is wrong or was used already.")


class ChallengeRefused(ProblemError):
    def __init__(self):
        super().__init__(401, "invalid-mfa-challenge", "The challenge is unknown, used or expired; log in again.")


# ---- codes ---------------------------------------------------------------------------------------------------------

def _matching_step(device: TotpDevice, code: str, now) -> int | None:
    """The time step whose code `code` is (this one or its neighbours: clocks drift), unless already used."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(_open(device.secret_encrypted))
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        if candidate > device.last_step and secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _count_failure(device: TotpDevice, now, tenant_id=None) -> None:
    window = timedelta(seconds=settings.LOGIN_LOCKOUT_S)
    if device.failures_since is None or now - device.failures_since > window:
        device.failures, device.failures_since = 0, now
    device.failures += 1
    if device.failures >= settings.LOGIN_MAX_FAILURES:
        device.locked_until = now + window
        device.failures, device.failures_since = 0, None
        audit.record(Kind.MFA_LOCKED, tenant_id=tenant_id, actor="anonymous", subject_user_id=device.user_id,
                     locked_until=device.locked_until.isoformat())
    else:
        audit.record(Kind.MFA_FAILED, tenant_id=tenant_id, actor="anonymous", subject_user_id=device.user_id,
                     failures=device.failures)
    device.save(update_fields=["failures", "failures_since", "locked_until"])


def _check_code(device: TotpDevice, code: str, *, tenant_id=None, recovery: bool = False) -> str:
    """"totp" or "recovery" when `code` is accepted (and used up); CodeRefused otherwise. The device row is locked,
    so parallel guesses are counted one after another."""
    now = timezone.now()
    if device.locked_until and device.locked_until > now:
        audit.record(Kind.MFA_FAILED, tenant_id=tenant_id, actor="anonymous", subject_user_id=device.user_id,
                     reason="locked")
        raise CodeRefused()
    step = _matching_step(device, code, now)
    if step is not None:
        device.last_step, device.failures, device.failures_since, device.locked_until = step, 0, None, None
        device.save(update_fields=["last_step", "failures", "failures_since", "locked_until"])
        return "totp"
    if recovery and device.confirmed_at:
        used = RecoveryCode.objects.filter(user_id=device.user_id, code_hash=_recovery_digest(device.user_id, code),
                                           used_at__isnull=True).update(used_at=now)
        if used:
            device.failures, device.failures_since = 0, None
            device.save(update_fields=["failures", "failures_since"])
            audit.record(Kind.MFA_RECOVERY_CODE_USED, tenant_id=tenant_id, actor=str(device.user_id),
                         subject_user_id=device.user_id,
                         left=RecoveryCode.objects.filter(user_id=device.user_id, used_at__isnull=True).count())
            return "recovery"
    _count_failure(device, now, tenant_id)
    raise CodeRefused()


def _locked_device(user_id) -> TotpDevice | None:
    return TotpDevice.objects.select_for_update().filter(user_id=user_id).first()


# ---- enrolment -----------------------------------------------------------------------------------------------------

def start_enrolment(user, *, tenant_id=None) -> dict:
    """A new secret (replacing an unconfirmed one); 409 when a second factor is on already (disable it first)."""
    with transaction.atomic():
        device = _locked_device(user.id)
        if device is not None and device.confirmed_at:
            raise ProblemError(409, "mfa-already-enabled", "Two-factor sign-in is on already; disable it first.")
        secret = pyotp.random_base32()
        if device is None:
            TotpDevice.objects.create(user=user, secret_encrypted=_seal(secret))
        else:
            device.secret_encrypted, device.last_step = _seal(secret), 0
            device.save(update_fields=["secret_encrypted", "last_step"])
        audit.record(Kind.MFA_ENROLMENT_STARTED, tenant_id=tenant_id, actor=str(user.id), subject_user_id=user.id)
    return {"secret": secret, "otpauth_uri": pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER),
            "digits": 6, "period": STEP_S}


def _new_recovery_codes(user_id) -> list[str]:
    RecoveryCode.objects.filter(user_id=user_id).delete()
    codes = [f"{secrets.token_hex(5)}-{secrets.token_hex(5)}" for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user_id=user_id, code_hash=_recovery_digest(user_id, code))
                                      for code in codes])
    return codes


def _verified(user_id, code: str, *, tenant_id=None, recovery: bool = False, confirmed: bool | None = True) -> str:
    """Check `code` against the user's device in a transaction of its own, so that a refusal's failure count and
    audit row commit before CodeRefused is raised."""
    refusal = None
    with transaction.atomic():
        device = _locked_device(user_id)
        if device is None or (confirmed is not None and bool(device.confirmed_at) != confirmed):
            refusal = ProblemError(409, "mfa-not-enabled" if confirmed else "mfa-not-enrolling",
                                   "Two-factor sign-in is not on." if confirmed else
                                   "Start the enrolment first (POST /api/v1/auth/mfa/totp).")
        else:
            try:
                kind = _check_code(device, code, tenant_id=tenant_id, recovery=recovery)
            except CodeRefused as exc:
                refusal = exc
    if refusal is not None:
        raise refusal
    return kind


def confirm_enrolment(user, code: str, *, tenant_id=None) -> list[str]:
    """The first good code turns the second factor on; answers the recovery codes (shown once)."""
    _verified(user.id, code, tenant_id=tenant_id, confirmed=False)
    with transaction.atomic():
        device = _locked_device(user.id)
        device.confirmed_at = timezone.now()
        device.save(update_fields=["confirmed_at"])
        codes = _new_recovery_codes(user.id)
        audit.record(Kind.MFA_ENABLED, tenant_id=tenant_id, actor=str(user.id), subject_user_id=user.id)
    return codes


def disable(user, code: str, *, tenant_id=None) -> None:
    """Off with a fresh code from the authenticator (a recovery code does not turn it off)."""
    if required_for(user.id, tenant_id) and TotpDevice.objects.filter(user_id=user.id).exists():
        raise ProblemError(403, "mfa-required-by-tenant", "This organisation requires two-factor sign-in for "
                           "your role; it cannot be turned off.")
    _verified(user.id, code, tenant_id=tenant_id, confirmed=True)
    with transaction.atomic():
        RecoveryCode.objects.filter(user_id=user.id).delete()
        TotpDevice.objects.filter(user_id=user.id).delete()
        audit.record(Kind.MFA_DISABLED, tenant_id=tenant_id, actor=str(user.id), subject_user_id=user.id)


def status_of(user, tenant_id=None) -> dict:
    device = TotpDevice.objects.filter(user_id=user.id).first()
    return {"enabled": bool(device and device.confirmed_at),
            "confirmed_at": device.confirmed_at if device and device.confirmed_at else None,
            "recovery_codes_left": RecoveryCode.objects.filter(user_id=user.id, used_at__isnull=True).count(),
            "required": required_for(user.id, tenant_id)}


# ---- the login's second step ---------------------------------------------------------------------------------------

def required_for(user_id, tenant_id) -> bool:
    """Whether the user's role in the tenant must sign in with a second factor (tenant.settings.mfa_required_roles)."""
    if not tenant_id:
        return False
    tenant = Tenant.objects.filter(id=tenant_id).first()
    roles = (tenant.settings or {}).get("mfa_required_roles") or [] if tenant else []
    membership = active_membership(user_id, tenant_id)
    return membership is not None and membership.role in roles


def _new_challenge(user, tenant_id, purpose: str) -> str:
    raw = secrets.token_urlsafe(32)
    LoginChallenge.objects.create(token_hash=_digest(raw), purpose=purpose, user=user, tenant_id=tenant_id,
                                  expires_at=timezone.now() + timedelta(seconds=settings.MFA_CHALLENGE_TTL_S))
    return raw


@tokens.login_check
def ask_for_the_second_factor(user, membership, method: str) -> None:
    """After the password matched: 401 mfa-required (a challenge) or 403 mfa-enrolment-required (a challenge to
    enrol with). The challenge row commits with the refusal (the login view answers without rolling back)."""
    if method not in ("password", "invitation"):  # SSO: the provider owns the second factor
        return
    tenant_id = membership.tenant_id if membership else None
    device = TotpDevice.objects.filter(user_id=user.id, confirmed_at__isnull=False).first()
    ttl = settings.MFA_CHALLENGE_TTL_S
    if device is not None:
        challenge = _new_challenge(user, tenant_id, LoginChallenge.Purpose.VERIFY)
        audit.record(Kind.MFA_CHALLENGED, tenant_id=tenant_id, actor=str(user.id), subject_user_id=user.id)
        raise ProblemError(401, "mfa-required", "Enter the code from your authenticator app (or a recovery code).",
                           challenge=challenge, expires_in=ttl, login_path="/api/v1/auth/login/mfa")
    if membership is not None and required_for(user.id, tenant_id):
        challenge = _new_challenge(user, tenant_id, LoginChallenge.Purpose.ENROL)
        audit.record(Kind.MFA_ENROLMENT_REQUIRED, tenant_id=tenant_id, actor=str(user.id), subject_user_id=user.id,
                     role=membership.role)
        raise ProblemError(403, "mfa-enrolment-required", "This organisation requires two-factor sign-in for your "
                           "role: set up an authenticator app with this challenge, then log in with its first code.",
                           challenge=challenge, expires_in=ttl, enrol_path="/api/v1/auth/login/mfa/enrol",
                           login_path="/api/v1/auth/login/mfa")


def _live_challenge(raw: str, *, for_update: bool = True) -> LoginChallenge:
    rows = LoginChallenge.objects.select_for_update() if for_update else LoginChallenge.objects
    challenge = rows.filter(token_hash=_digest(raw or "")).first()
    if challenge is None or challenge.used_at or challenge.expires_at <= timezone.now() \
            or challenge.attempts >= settings.LOGIN_MAX_FAILURES:
        raise ChallengeRefused()
    return challenge


def enrol_with_challenge(raw: str) -> dict:
    """The enrolment a tenant requires, started with the login's `enrol` challenge (no session yet)."""
    with transaction.atomic():
        challenge = _live_challenge(raw)
        if challenge.purpose != LoginChallenge.Purpose.ENROL:
            raise ChallengeRefused()
        user = user_by_id(challenge.user_id)
    return start_enrolment(user, tenant_id=challenge.tenant_id)


def complete_login(raw: str, code: str) -> dict:
    """The second step: a good code (or recovery code) and a live challenge → the session the password step chose.
    Refusals are raised after their counts commit."""
    with transaction.atomic():  # the attempt counts even when the code is refused
        challenge = _live_challenge(raw)
        challenge.attempts += 1
        challenge.save(update_fields=["attempts"])
    enrolling = challenge.purpose == LoginChallenge.Purpose.ENROL
    device = TotpDevice.objects.filter(user_id=challenge.user_id).first()
    if device is None or (not enrolling and device.confirmed_at is None):
        raise ChallengeRefused()
    _verified(challenge.user_id, code, tenant_id=challenge.tenant_id, recovery=not enrolling, confirmed=None)
    with transaction.atomic():
        challenge = LoginChallenge.objects.select_for_update().get(id=challenge.id)
        if challenge.used_at:
            raise ChallengeRefused()
        challenge.used_at = timezone.now()
        challenge.save(update_fields=["used_at"])
        user = user_by_id(challenge.user_id)
        membership = active_membership(user.id, challenge.tenant_id) if challenge.tenant_id else None
        if not user.is_active or (challenge.tenant_id and membership is None):
            raise ChallengeRefused()
        answer = {}
        device = _locked_device(user.id)
        if enrolling and device.confirmed_at is None:
            device.confirmed_at = timezone.now()
            device.save(update_fields=["confirmed_at"])
            answer["recovery_codes"] = _new_recovery_codes(user.id)
            audit.record(Kind.MFA_ENABLED, tenant_id=challenge.tenant_id, actor=str(user.id), subject_user_id=user.id)
        pair = tokens.open_session(user, membership, method="totp")
    return {**pair.as_dict(), **answer}
