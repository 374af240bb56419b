"""identity: tenants, users, memberships and roles, password login, refresh tokens, signing keys + JWKS, audit log."""
from servicekit import config
from servicekit.django.settings import build

globals().update(build(
    "identity",
    apps=["identity.tenants", "identity.accounts", "identity.tokens", "identity.audit", "identity.invitations",
          "identity.apikeys", "identity.sso", "identity.mfa"],  # mfa after sso: its login check runs last
    urlconf="identity.urls",
    title="VO2max Report — identity",
    description="Tenants, users, memberships, password login, tokens, signing keys (JWKS) and the audit log.",
))

# Identity verifies bearer tokens with its own signing keys (read from its database), not over HTTP, and refuses
# tokens of users or memberships deactivated since the token was issued.
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = ["identity.tokens.auth.IdentityTokenAuthentication"]  # noqa: F821

# Passwords: Django's hashers (PBKDF2 by default; hashes are upgraded on login when the work factor rises).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# identity publishes events through its outbox (written in the request's transaction; `manage.py run_relay` sends
# them) and runs no Celery: the web process never talks to the broker, so readiness does not wait for one.
USES_BROKER = False

# ---- identity's own configuration (read once, here; README "Environment") ----------------------------------------
JWT_ISSUER = config.env("JWT_ISSUER", "vo2max-identity")
JWT_AUDIENCE = config.env("JWT_AUDIENCE", "vo2max-api")
JWT_JWKS_WARM_UP = False  # identity verifies against its own keys (tokens.auth), never its JWKS over HTTP
JWT_LEEWAY_S = config.env_int("JWT_LEEWAY_S", 30)  # the leeway every verifier allows (the kit's, at most 60 s)
ACCESS_TOKEN_SECONDS = config.env_int("ACCESS_TOKEN_MINUTES", 10) * 60
REFRESH_TOKEN_DAYS = config.env_int("REFRESH_TOKEN_DAYS", 30)
LOGIN_MAX_FAILURES = config.env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_LOCKOUT_S = config.env_int("LOGIN_LOCKOUT_S", 900)
# Encrypts the signing keys' private halves at rest; its development default is refused outside local mode.
SIGNING_KEY_SECRET = config.secret("SIGNING_KEY_SECRET", "identity-signing-key")
INVITATION_TTL_HOURS = config.env_int("INVITATION_TTL_HOURS", 72)  # how long an invitation can be accepted
if INVITATION_TTL_HOURS <= 0:
    raise config.ConfigError("INVITATION_TTL_HOURS must be a positive number of hours")
# Where people open the web app: invitation links point there.
PUBLIC_APP_URL = (config.env("PUBLIC_APP_URL", "http://127.0.0.1:8000") or "http://127.0.0.1:8000").rstrip("/")


def service_clients() -> dict[str, str]:
    """Client-credentials clients: SERVICE_CLIENTS="reports:<secret>,notifications" — an entry without a secret
    reads SERVICE_CLIENT_<ID>_SECRET (servicekit.config.secret: a development default in local mode only)."""
    clients: dict[str, str] = {}
    for item in config.env_list("SERVICE_CLIENTS"):
        client_id, has_secret, value = (part.strip() for part in item.partition(":"))
        if not client_id:
            continue
        if not has_secret:
            value = config.secret(f"SERVICE_CLIENT_{client_id.upper().replace('-', '_')}_SECRET", f"service-{client_id}")
        elif not value:
            raise config.ConfigError(f"SERVICE_CLIENTS: client {client_id!r} has an empty secret")
        elif value.startswith(config.DEV_SECRET_PREFIX) and not config.is_local():
            raise config.ConfigError(f"SERVICE_CLIENTS: client {client_id!r} still holds a development secret")
        clients[client_id] = value
    return clients


SERVICE_CLIENTS = service_clients()

# API keys (identity.apikeys): the service clients that may exchange a key for an access token (the gateway), and
# how long such a token lives (short: a revoked key's last token dies soon even if someone kept it).
API_KEY_CLIENTS = config.env_list("API_KEY_CLIENTS") or ["gateway"]
API_KEY_TOKEN_SECONDS = config.env_int("API_KEY_TOKEN_SECONDS", 90)
# Two-factor sign-in (identity.mfa): how long the login's challenge for the second step lives.
MFA_CHALLENGE_TTL_S = config.env_int("MFA_CHALLENGE_TTL_S", 300)

# Single sign-on (identity.sso) and password resets (identity.accounts): README "Environment".
SSO_STATE_TTL_S = config.env_int("SSO_STATE_TTL_S", 600)      # how long a started sign-in's state/nonce live
SSO_HTTP_TIMEOUT_S = float(config.env_int("SSO_HTTP_TIMEOUT_S", 10))
SSO_LEEWAY_S = config.env_int("SSO_LEEWAY_S", 60)              # clock skew allowed on the provider's ID tokens
SSO_REDIRECT_URL = config.env("SSO_REDIRECT_URL", "") or f"{PUBLIC_APP_URL}/api/v1/auth/sso/callback"
# Hosts a tenant's issuer (and its token and JWKS endpoints) may be on although they are not public addresses:
# identity fetches these URLs, so in SaaS mode only https on public addresses, unless listed here (SSRF).
SSO_PRIVATE_ISSUER_HOSTS = config.env_list("SSO_PRIVATE_ISSUER_HOSTS",
                                           "127.0.0.1,localhost,::1" if config.is_local() else "")
PASSWORD_RESET_TTL_MINUTES = config.env_int("PASSWORD_RESET_TTL_MINUTES", 30)
PASSWORD_CHANGE_AUDIENCE = "vo2max-password-change"  # the `aud` of a session that must change its password first
# A deleted tenant is erased by every service that holds its data; each confirms (identity.consumers).
TENANT_DELETION_CONFIRMERS = config.env_list("TENANT_DELETION_CONFIRMERS", "measurements,reports,notifications")
# Periodic jobs (servicekit.periodic; one beat sends them, the worker runs them): name -> every N seconds.
EXPIRED_TOKENS_KEEP_DAYS = config.env_int("EXPIRED_TOKENS_KEEP_DAYS", 7)            # refresh and reset tokens
EXPIRED_INVITATIONS_KEEP_DAYS = config.env_int("EXPIRED_INVITATIONS_KEEP_DAYS", 30)  # listed as expired meanwhile
PERIODIC_JOBS = {"identity.refresh_tokens.remove_expired": 3600.0, "identity.password_resets.remove_expired": 3600.0,
                 "identity.invitations.remove_expired": 3600.0, "events.prune": 3600.0}
