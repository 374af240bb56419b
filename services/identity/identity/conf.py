"""identity's own settings from the environment (read when used, so a changed environment needs no restart logic).

Every name here is listed in the service's report/README: JWT_ISSUER, JWT_AUDIENCE, JWT_LEEWAY_S, ACCESS_TOKEN_MINUTES,
REFRESH_TOKEN_DAYS, LOGIN_MAX_FAILURES, LOGIN_LOCKOUT_S, SIGNING_KEY_SECRET, SERVICE_CLIENTS,
SERVICE_CLIENT_<ID>_SECRET, INVITATION_TTL_HOURS, PUBLIC_APP_URL.
"""
from __future__ import annotations

from servicekit.config import DEV_SECRET_PREFIX, ConfigError, env, env_int, env_list, is_local, secret


def issuer() -> str:
    return env("JWT_ISSUER", "vo2max-identity")


def audience() -> str:
    return env("JWT_AUDIENCE", "vo2max-api")


def leeway_s() -> int:
    """The clock leeway every verifier allows (the kit's JWT_LEEWAY_S, at most 60 s)."""
    return env_int("JWT_LEEWAY_S", 30)


def access_token_seconds() -> int:
    return env_int("ACCESS_TOKEN_MINUTES", 10) * 60


def refresh_token_days() -> int:
    return env_int("REFRESH_TOKEN_DAYS", 30)


def login_max_failures() -> int:
    return env_int("LOGIN_MAX_FAILURES", 5)


def login_lockout_s() -> int:
    return env_int("LOGIN_LOCKOUT_S", 900)


def signing_key_secret() -> str:
    """Encrypts the signing keys' private halves at rest; its development default is refused outside local mode."""
    return secret("SIGNING_KEY_SECRET", "identity-signing-key")


def service_clients() -> dict[str, str]:
    """Client-credentials clients: SERVICE_CLIENTS="reports:<secret>,notifications" — an entry without a secret
    reads SERVICE_CLIENT_<ID>_SECRET (servicekit.config.secret: a development default in local mode only)."""
    clients: dict[str, str] = {}
    for item in env_list("SERVICE_CLIENTS"):
        client_id, has_secret, value = (part.strip() for part in item.partition(":"))
        if not client_id:
            continue
        if not has_secret:
            value = secret(f"SERVICE_CLIENT_{client_id.upper().replace('-', '_')}_SECRET", f"service-{client_id}")
        elif not value:
            raise ConfigError(f"SERVICE_CLIENTS: client {client_id!r} has an empty secret")
        elif value.startswith(DEV_SECRET_PREFIX) and not is_local():
            raise ConfigError(f"SERVICE_CLIENTS: client {client_id!r} still holds a development secret")
        clients[client_id] = value
    return clients


def invitation_ttl_hours() -> int:
    """How long an invitation can be accepted (INVITATION_TTL_HOURS, default 72)."""
    hours = env_int("INVITATION_TTL_HOURS", 72)
    if hours <= 0:
        raise ConfigError("INVITATION_TTL_HOURS must be a positive number of hours")
    return hours


def public_app_url() -> str:
    """Where people open the web app (PUBLIC_APP_URL, default http://127.0.0.1:8000): invitation links point there."""
    return (env("PUBLIC_APP_URL", "http://127.0.0.1:8000") or "http://127.0.0.1:8000").rstrip("/")
