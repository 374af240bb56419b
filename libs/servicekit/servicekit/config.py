"""Settings from the environment.

Every service reads its configuration through `env()` so that the same code runs in local mode (embedded
defaults: SQLite, kombu filesystem transport, in-process cache) and in SaaS mode (PostgreSQL, RabbitMQ, Redis),
with only environment variables differing. Outside local mode a secret left at its development default is refused.
"""
from __future__ import annotations

import os
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}


class ConfigError(RuntimeError):
    pass


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    return default if value is None else value.strip().lower() in TRUE


def env_int(name: str, default: int) -> int:
    value = env(name)
    return default if value is None else int(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


def mode() -> str:
    """`local` (one lab, one computer, the embedded default) or `saas`."""
    value = (env("VO2_MODE", "local") or "local").lower()
    if value not in {"local", "saas"}:
        raise ConfigError(f"VO2_MODE must be 'local' or 'saas', not {value!r}")
    return value


def is_local() -> bool:
    return mode() == "local"


def data_dir() -> Path:
    """Where local mode keeps its SQLite files, broker folder and report files."""
    path = Path(env("VO2_DATA_DIR", str(Path.cwd() / "var")) or "var").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


DEV_SECRET_PREFIX = "dev-insecure-"


def secret(name: str, dev_default: str | None = None) -> str:
    """A secret from the environment; its development default is only accepted in local mode."""
    value = env(name)
    if value is None:
        if not is_local():
            raise ConfigError(f"{name} must be set outside local mode")
        return DEV_SECRET_PREFIX + (dev_default or name.lower())
    if value.startswith(DEV_SECRET_PREFIX) and not is_local():
        raise ConfigError(f"{name} still holds a development secret; set a real one outside local mode")
    return value
