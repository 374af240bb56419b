"""The route table (ARCHITECTURE.md "Public API") and the explicit list of public routes.

Paths are forwarded unchanged: every service serves the full `/api/v1/...` paths itself.
"""
from __future__ import annotations

# Path prefix → service. A prefix also matches its collection path without the trailing slash.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/v1/auth/", "identity"),
    ("/api/v1/tenants/", "identity"),
    ("/api/v1/users/", "identity"),
    ("/api/v1/athletes/", "measurements"),
    ("/api/v1/tests/", "measurements"),
    ("/api/v1/imports/", "measurements"),
    ("/api/v1/analysis/", "analysis"),
    ("/api/v1/reports/", "reports"),
    ("/api/v1/notifications/", "notifications"),
    ("/api/v1/webhooks/", "notifications"),
)
EXACT_ROUTES = {"/.well-known/jwks.json": "identity"}
EXACT_ROUTES.update({prefix.rstrip("/"): service for prefix, service in ROUTES})
_PREFIX_BY_SEGMENT = {prefix.split("/")[3]: (prefix, service) for prefix, service in ROUTES}

# Served by the gateway itself.
OWN_PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/api/docs", "/api/openapi.json"})
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})

# Routes that need no access token: (method, path). A trailing slash is tolerated.
PUBLIC_ROUTES = frozenset({
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),  # carries the refresh token it revokes
    ("POST", "/api/v1/auth/invitations/accept"),
    ("POST", "/api/v1/auth/login/discover"),          # answers by e-mail domain only
    ("POST", "/api/v1/auth/password/reset"),          # 202 for any address
    ("POST", "/api/v1/auth/password/reset/confirm"),  # the e-mailed token is the credential
    # identity verifies this one itself: it also takes the restricted token of a session that must change its
    # password first (audience vo2max-password-change), which every other route refuses
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/auth/login/mfa"),  # the challenge from the password step is the credential
    ("POST", "/api/v1/auth/login/mfa/enrol"),  # likewise, when the tenant requires a second factor first
    ("GET", "/.well-known/jwks.json"),
    ("HEAD", "/.well-known/jwks.json"),
})
# Every method under these prefixes is public (SSO browser redirects and callbacks).
PUBLIC_PREFIXES = ("/api/v1/auth/sso/",)
LOGIN = ("POST", "/api/v1/auth/login")


def service_for(path: str) -> str | None:
    """The service owning `path`, or None (then the gateway answers itself, or 404)."""
    service = EXACT_ROUTES.get(path)
    if service is not None:
        return service
    if path.startswith("/api/v1/"):
        parts = path.split("/", 4)  # ['', 'api', 'v1', '<segment>', ...]
        if len(parts) == 5:
            hit = _PREFIX_BY_SEGMENT.get(parts[3])
            if hit is not None:
                return hit[1]
    return None


def route_for(path: str) -> str | None:
    """The routing prefix that serves `path` (`/api/v1/athletes/` for `/api/v1/athletes/…/`), or the exact route;
    None when no service owns it. A bounded label for the metrics."""
    if path in EXACT_ROUTES:
        return path if path.startswith("/.well-known") else path + "/"
    if path.startswith("/api/v1/"):
        parts = path.split("/", 4)
        if len(parts) == 5:
            hit = _PREFIX_BY_SEGMENT.get(parts[3])
            if hit is not None:
                return hit[0]
    return None


def _strip_slash(path: str) -> str:
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def is_public(method: str, path: str) -> bool:
    if path in OWN_PUBLIC_PATHS:
        return True
    if (method, _strip_slash(path)) in PUBLIC_ROUTES:
        return True
    return path.startswith(PUBLIC_PREFIXES)


def is_login(method: str, path: str) -> bool:
    return method == "POST" and _strip_slash(path) == LOGIN[1]


def is_suspicious(path: str) -> bool:
    """Dot segments or empty segments would let a path look public here and mean something else upstream."""
    return ("/." in path and ("/../" in path or "/./" in path or path.endswith(("/..", "/.")))) or "//" in path \
        or "\\" in path or "\x00" in path
