"""Rate limits per IP, per user and per tenant (plus a stricter one for the password login per IP).

Algorithm: a sliding-window counter. Each limit keeps a counter for the current and the previous fixed window; the
estimate is `previous * (1 - elapsed_fraction) + current`. A request is admitted only when *every* limit that applies
stays within its budget, and only then are the counters incremented (a rejected request costs nothing, so a client
hammering a limit is admitted again at exactly the allowed rate). SaaS mode keeps the counters in Redis and decides
in one atomic Lua script per request (one round trip for all limits); local mode (REDIS_URL unset) keeps them
in-process.

If Redis is down or slow the limiter FAILS OPEN: the request is admitted without rate-limit headers, a warning is
logged (at most every 10 s), and Redis is not asked again for a few seconds so an outage adds no latency. Losing
rate limiting for a while is better than losing the whole API.
"""
from __future__ import annotations

import logging
import math
import time
from typing import NamedTuple

log = logging.getLogger("gateway.ratelimit")


class Limit(NamedTuple):
    scope: str  # "ip", "login", "user", "tenant"
    ident: str
    limit: int  # per window


class Decision(NamedTuple):  # a tuple: made on every request, cheaper than a frozen dataclass
    allowed: bool
    limit: int | None = None  # the tightest applicable limit, for the RateLimit headers
    remaining: int = 0
    reset: int = 0  # seconds until the budget is restored (Retry-After when not allowed)
    scope: str | None = None

    def headers(self, window: int) -> list[tuple[bytes, bytes]]:
        """`RateLimit-Policy` and `RateLimit` as draft-ietf-httpapi-ratelimit-headers (-08 to -11) defines them:
        `"user";q=1200;w=60` (quota per window of seconds) and `"user";r=17;t=42` (remaining, seconds until the
        quota is whole again), for the limit with the least room left; a 429 adds Retry-After."""
        if self.limit is None:
            return []
        name = (self.scope or "default").encode()
        out = [(b"ratelimit-policy", b'"%s";q=%d;w=%d' % (name, self.limit, window)),
               (b"ratelimit", b'"%s";r=%d;t=%d' % (name, self.remaining, self.reset))]
        if not self.allowed:
            out.append((b"retry-after", b"%d" % self.reset))
        return out


OPEN = Decision(allowed=True)


def _retry_after(limit: int, prev: int, cur: int, frac: float, window: int) -> float:
    """Seconds until one more request fits under `limit` (sliding-window estimate)."""
    if cur + 1 > limit:
        # Wait for the next window, where `cur` becomes the previous count and decays.
        need = 1.0 - (limit - 1) / cur if cur else 0.0
        return (1.0 - frac) * window + max(0.0, need) * window
    if prev <= 0:
        return 0.0
    need = 1.0 - (limit - cur - 1) / prev
    return max(0.0, need - frac) * window


def decide(limits: list[Limit], counts: list[tuple[int, int]], allowed: bool, frac: float, window: int) -> Decision:
    """Turn (previous, current) counts — current already including this request when allowed — into a Decision.
    Limits are unpacked as plain tuples: this runs on every request."""
    decay = 1.0 - frac
    if allowed:  # report the limit with the least room left (ties: the smaller limit)
        best_remaining = best_limit = best_scope = None
        for (scope, _, limit), (prev, cur) in zip(limits, counts):
            remaining = int(limit - (prev * decay + cur))
            if remaining < 0:
                remaining = 0
            if best_remaining is None or remaining < best_remaining or (
                    remaining == best_remaining and limit < best_limit):
                best_remaining, best_limit, best_scope = remaining, limit, scope
        if best_remaining is None:
            return OPEN
        return Decision(True, best_limit, best_remaining, max(1, math.ceil(decay * window)), best_scope)
    worst: Decision | None = None  # the exceeded limit that takes longest to allow one more request
    for (scope, _, limit), (prev, cur) in zip(limits, counts):
        if prev * decay + cur + 1 > limit:
            wait = max(1, math.ceil(_retry_after(limit, prev, cur, frac, window)))
            if worst is None or wait > worst.reset:
                worst = Decision(False, limit, 0, wait, scope)
    return worst or OPEN


class MemoryLimiter:
    """In-process counters (local mode: one gateway process)."""

    def __init__(self, window: int, prefix: str = ""):
        self.window = window
        self._counters: dict[str, list[int]] = {}  # key -> [window index, current, previous]
        self._last_sweep = 0

    async def hit(self, limits: list[Limit]) -> Decision:
        if not limits:
            return OPEN
        now = time.time()
        index, frac = divmod(now, self.window)
        index, frac = int(index), frac / self.window
        counters = self._counters
        if index != self._last_sweep:  # drop counters idle for two windows, once per window
            self._last_sweep = index
            stale = [k for k, v in counters.items() if v[0] < index - 1]
            for k in stale:
                del counters[k]
        decay, allowed, entries = 1.0 - frac, True, []
        for scope, ident, limit in limits:  # written out (no helper calls, tuple keys): this runs on every request
            key = (scope, ident)
            entry = counters.get(key)
            if entry is None:
                entry = counters[key] = [index, 0, 0]
            elif entry[0] != index:
                entry[2] = entry[1] if entry[0] == index - 1 else 0
                entry[1], entry[0] = 0, index
            if entry[2] * decay + entry[1] + 1 > limit:
                allowed = False
            entries.append(entry)
        if allowed:
            for entry in entries:
                entry[1] += 1
        return decide(limits, [(e[2], e[1]) for e in entries], allowed, frac, self.window)

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


# KEYS: current1, previous1, current2, previous2, ...; ARGV: elapsed fraction, ttl ms, limit1, limit2, ...
LUA = """
local n = #KEYS / 2
local frac = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local counts = {}
local allowed = 1
for i = 1, n do
  local cur = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local prev = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if prev * (1 - frac) + cur + 1 > tonumber(ARGV[2 + i]) then allowed = 0 end
  counts[2 * i] = cur
  counts[2 * i + 1] = prev
end
if allowed == 1 then
  for i = 1, n do
    local cur = redis.call('INCR', KEYS[2 * i - 1])
    if cur == 1 then redis.call('PEXPIRE', KEYS[2 * i - 1], ttl) end
    counts[2 * i] = cur
  end
end
counts[1] = allowed
return counts
"""


class RedisLimiter:
    """Counters in Redis, shared by every gateway replica; one atomic script call per request."""

    def __init__(self, url: str, window: int, prefix: str, timeout: float = 0.25, pause_on_error: float = 5.0):
        import redis.asyncio as aioredis

        self.window, self.prefix, self.pause_on_error = window, prefix, pause_on_error
        self.redis = aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                             max_connections=256)
        self.script = self.redis.register_script(LUA)
        self._paused_until = 0.0
        self._last_log = 0.0

    async def hit(self, limits: list[Limit]) -> Decision:
        if not limits:
            return OPEN
        if self._paused_until and time.monotonic() < self._paused_until:
            return OPEN  # fail open while Redis is known to be down
        now = time.time()
        index, frac = divmod(now, self.window)
        index, frac = int(index), frac / self.window
        keys: list[str] = []
        for scope, ident, _ in limits:
            base = f"{self.prefix}{scope}:{ident}:"
            keys.append(f"{base}{index}")
            keys.append(f"{base}{index - 1}")
        args = [repr(frac), self.window * 2000] + [limit for _, _, limit in limits]
        try:
            result = await self.script(keys=keys, args=args)
        except Exception as exc:  # Redis down/slow: FAIL OPEN (see module docstring), log, pause Redis calls
            self._paused_until = time.monotonic() + self.pause_on_error
            if time.monotonic() - self._last_log > 10:
                self._last_log = time.monotonic()
                log.warning("rate limiter: Redis unavailable, failing open for %.0f s: %s: %s",
                            self.pause_on_error, type(exc).__name__, exc)
            return OPEN
        self._paused_until = 0.0
        allowed = int(result[0]) == 1
        counts = [(int(result[2 * i + 2]), int(result[2 * i + 1])) for i in range(len(limits))]
        return decide(limits, counts, allowed, frac, self.window)

    async def ping(self) -> None:
        await self.redis.ping()

    async def aclose(self) -> None:
        await self.redis.aclose()


def make_limiter(settings):
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, settings.rate_limit_window_s, settings.rate_limit_prefix)
    return MemoryLimiter(settings.rate_limit_window_s)
