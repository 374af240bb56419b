"""Gateway settings, read once from the environment through servicekit.config (same code in local and SaaS mode)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from servicekit.config import ConfigError, env, env_bool, env_int, env_list, is_local

SERVICES = ("identity", "measurements", "analysis", "reports", "notifications")
DEFAULT_PORTS = {"identity": 8001, "measurements": 8002, "analysis": 8003, "reports": 8004, "notifications": 8005}
# Local mode: a browser app served by a dev server on any localhost port may call the gateway.
# how long an idle upstream connection stays in the pool: below the services' own keep-alive (the launcher's
# UPSTREAM_KEEP_ALIVE_S, the images' --keep-alive), so the gateway never sends on a connection a server is closing
DEFAULT_UPSTREAM_KEEPALIVE_S = 4.0
LOCAL_ORIGIN_REGEX = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


def _float(name: str, default: float) -> float:
    value = env(name)
    return default if value is None else float(value)


def _networks(values: list[str]) -> tuple:
    """TRUSTED_PROXIES: addresses or networks (`10.0.0.0/8`) of the proxies in front of the gateway. Only their
    X-Forwarded-* headers are believed; empty (the default, in every mode) believes none."""
    try:
        return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())
    except ValueError as exc:
        raise ConfigError(f"TRUSTED_PROXIES: {exc}") from exc


@dataclass(frozen=True)
class Settings:
    local: bool
    service_urls: dict[str, str]
    jwks_url: str
    jwt_issuer: str
    jwt_audience: str
    jwt_leeway: int
    jwks_refetch_s: float
    jwks_max_age_s: float
    token_cache_size: int
    token_cache_s: float
    cors_origins: list[str]
    cors_origin_regex: str | None
    cors_allow_credentials: bool
    redis_url: str | None
    rate_limit_window_s: int
    rate_limit_ip: int
    rate_limit_user: int
    rate_limit_tenant: int
    rate_limit_login_ip: int
    rate_limit_prefix: str
    max_body_bytes: int
    chunked_request_bodies: str
    upstream_transport: str
    upstream_connect_timeout_s: float
    upstream_timeout_s: float
    upstream_max_connections: int
    upstream_keepalive_s: float
    openapi_cache_s: float
    openapi_timeout_s: float
    access_log: bool
    trusted_proxies: tuple = ()
    max_url_bytes: int = 4000
    max_header_bytes: int = 8000
    max_json_body_bytes: int = 10 * 1024 * 1024
    # API keys (apikeys.py): the gateway's client credentials at identity, and how long an exchanged token is kept
    service_client_id: str | None = None
    service_client_secret: str | None = None
    api_key_cache_s: float = 60.0
    # the built web console (console.py); None: web/dist beside the gateway
    web_dir: str | None = None

    @classmethod
    def from_env(cls) -> "Settings":
        local = is_local()
        # Each variable named in full, so a reader (and the compose check) sees exactly what the gateway reads.
        urls = {name: (url or "").rstrip("/") for name, url in {
            "identity": env("IDENTITY_URL", f"http://127.0.0.1:{DEFAULT_PORTS['identity']}"),
            "measurements": env("MEASUREMENTS_URL", f"http://127.0.0.1:{DEFAULT_PORTS['measurements']}"),
            "analysis": env("ANALYSIS_URL", f"http://127.0.0.1:{DEFAULT_PORTS['analysis']}"),
            "reports": env("REPORTS_URL", f"http://127.0.0.1:{DEFAULT_PORTS['reports']}"),
            "notifications": env("NOTIFICATIONS_URL", f"http://127.0.0.1:{DEFAULT_PORTS['notifications']}"),
        }.items()}
        # Chosen by bench/gateway.py (same run, 2 cores): at 32 clients native kept 47 % of direct throughput,
        # aiohttp 28 %, httpx-aiohttp 24 %, plain httpx 3 %. `native` is our small keep-alive pool on httptools (the
        # parser uvicorn uses), talking only to our own services; aiohttp stays one setting away.
        transport = (env("UPSTREAM_TRANSPORT", "native") or "native").lower()
        if transport not in {"native", "aiohttp", "httpx-aiohttp", "httpx"}:
            raise ConfigError("UPSTREAM_TRANSPORT must be 'native', 'aiohttp', 'httpx-aiohttp' or 'httpx', "
                              f"not {transport!r}")
        # Spooled by default: Django reads no body without a Content-Length, so a streamed chunked body would reach
        # it empty (misleading 400s); the spool keeps memory bounded and applies MAX_BODY_BYTES while reading.
        chunked = (env("CHUNKED_REQUEST_BODIES", "spool") or "spool").lower()
        if chunked not in {"stream", "spool"}:
            raise ConfigError(f"CHUNKED_REQUEST_BODIES must be 'stream' or 'spool', not {chunked!r}")
        origins = env_list("CORS_ALLOW_ORIGINS")
        regex = env("CORS_ALLOW_ORIGIN_REGEX")
        if regex is None and local and not origins:
            regex = LOCAL_ORIGIN_REGEX  # SaaS: no origin is allowed unless listed
        return cls(
            local=local,
            service_urls=urls,
            jwks_url=env("JWT_JWKS_URL", f"{urls['identity']}/.well-known/jwks.json"),
            jwt_issuer=env("JWT_ISSUER", "vo2max-identity"),
            jwt_audience=env("JWT_AUDIENCE", "vo2max-api"),
            jwt_leeway=env_int("JWT_LEEWAY_S", 30),
            jwks_refetch_s=_float("JWT_JWKS_REFETCH_S", 10.0),
            jwks_max_age_s=_float("JWT_JWKS_MAX_AGE_S", 300.0),
            token_cache_size=env_int("TOKEN_CACHE_SIZE", 10_000),
            token_cache_s=_float("TOKEN_CACHE_S", 60.0),
            cors_origins=origins,
            cors_origin_regex=regex,
            cors_allow_credentials=env_bool("CORS_ALLOW_CREDENTIALS", False),
            redis_url=env("REDIS_URL"),
            rate_limit_window_s=env_int("RATE_LIMIT_WINDOW_S", 60),
            rate_limit_ip=env_int("RATE_LIMIT_IP", 600),
            rate_limit_user=env_int("RATE_LIMIT_USER", 1200),
            rate_limit_tenant=env_int("RATE_LIMIT_TENANT", 6000),
            rate_limit_login_ip=env_int("RATE_LIMIT_LOGIN_IP", 30),
            rate_limit_prefix=env("RATE_LIMIT_PREFIX", "vo2:rl:"),
            max_body_bytes=env_int("MAX_BODY_BYTES", 50 * 1024 * 1024),
            chunked_request_bodies=chunked,
            upstream_transport=transport,
            upstream_connect_timeout_s=_float("UPSTREAM_CONNECT_TIMEOUT_S", 5.0),
            upstream_timeout_s=_float("UPSTREAM_TIMEOUT_S", 60.0),
            upstream_max_connections=env_int("UPSTREAM_MAX_CONNECTIONS", 200),
            upstream_keepalive_s=_float("UPSTREAM_KEEPALIVE_S", DEFAULT_UPSTREAM_KEEPALIVE_S),
            openapi_cache_s=_float("OPENAPI_CACHE_S", 60.0),
            # generous: a service builds its schema on each fetch, which takes seconds on a loaded machine
            openapi_timeout_s=_float("OPENAPI_TIMEOUT_S", 10.0),
            # One JSON access line per request (buffered, see accesslog.py); off when LOG_LEVEL is above INFO.
            trusted_proxies=_networks(env_list("TRUSTED_PROXIES")),
            # Below gunicorn's request-line limit (4094 bytes with method and version), so no service ever shows its
            # HTML page for a long URL: the gateway answers 414 problem+json first.
            max_url_bytes=env_int("MAX_URL_BYTES", 4000),
            max_header_bytes=env_int("MAX_HEADER_BYTES", 8000),
            # the kit's Django limit for JSON bodies reads the same variable, so both refuse at the same size
            max_json_body_bytes=env_int("MAX_JSON_BODY_BYTES", 10 * 1024 * 1024),  # per header line; gunicorn's limit is 8190
            service_client_id=env("SERVICE_CLIENT_ID"),
            service_client_secret=env("SERVICE_CLIENT_SECRET"),
            api_key_cache_s=min(_float("API_KEY_CACHE_S", 60.0), 60.0),  # revocation must show within 60 s
            web_dir=env("WEB_DIR"),
            access_log=env_bool("ACCESS_LOG", True) and (env("LOG_LEVEL", "INFO") or "INFO").upper() in {"DEBUG", "INFO"},
        )
