"""Liveness and readiness. Readiness really touches each dependency the service uses."""
from __future__ import annotations

import time
from typing import Callable

from .config import env

Check = Callable[[], None]


def check_broker(url: str | None = None, timeout: float = 2.0) -> None:
    from kombu import Connection

    with Connection(url or env("BROKER_URL", "memory://"), connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


def check_cache(url: str | None = None, timeout: float = 2.0) -> None:
    url = url if url is not None else env("REDIS_URL")
    if not url:
        return  # local mode: the cache is in-process and always there
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


# Dependencies the services degrade without (Redis: rate-limit counters fail open, stream wake-ups fall back to
# polling, nothing else keeps data there): shown as "degraded" when down, never making a process not ready, or
# every pod would leave the load balancer because of a cache (README, "When a server goes away").
DEGRADABLE = frozenset({"cache", "redis"})


def run_checks(checks: dict[str, Check], degradable=DEGRADABLE) -> tuple[bool, dict]:
    results, ok = {}, True
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:  # any other failure makes the service not ready, with the reason shown
            error = f"{type(exc).__name__}: {exc}"[:300]
            if name in degradable:
                results[name] = {"status": "degraded", "error": error}
                continue
            ok = False
            results[name] = {"status": "fail", "error": error}
    return ok, {"status": "ready" if ok else "not-ready", "checks": results}
