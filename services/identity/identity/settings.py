"""identity: tenants, users, memberships and roles, password login, refresh tokens, signing keys + JWKS, audit log."""
from servicekit.django.settings import build

globals().update(build(
    "identity",
    apps=["identity.tenants", "identity.accounts", "identity.tokens", "identity.audit", "identity.invitations"],
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
