"""The gateway's metrics and spans, kept off the hot path's bill.

Metrics (servicekit.metrics, served on the gateway's own METRICS_PORT, never on the public port): every answer by
route (the routing prefix, e.g. `/api/v1/athletes/`; the gateway's own paths; `unmatched`), method and status, its
duration, requests in flight; per upstream the time a forwarded request took, its failures (timeout, unavailable,
aborted mid-answer) and the pool's connections (busy, idle; read when scraped); answers refused by a rate limit, by
limit; the token cache's hits and misses. Labelled children are made once and kept, so a request costs a few dict
lookups and increments.

Spans (servicekit.tracing) only when tracing records: a server span per request, child of the client's
`traceparent`, and a client span per upstream call whose context is the `traceparent` the service gets. Not
recording, the gateway passes on the client's trace id (or starts one) with a new span id, as before.
"""
from __future__ import annotations

from servicekit import metrics

from . import routes

UPSTREAM_DURATION = metrics.histogram("vo2_gateway_upstream_request_duration_seconds",
                                      "Time a request forwarded to a service took, to its last byte", ["upstream"])
UPSTREAM_ERRORS = metrics.counter("vo2_gateway_upstream_errors_total",
                                  "Forwarded requests that failed: timeout, unavailable, aborted mid-answer",
                                  ["upstream", "kind"])
UPSTREAM_CONNECTIONS = metrics.gauge("vo2_gateway_upstream_connections",
                                     "Connections of the gateway's pool to each service: busy or idle", ["upstream",
                                                                                                       "state"])
RATE_LIMITED = metrics.counter("vo2_gateway_rate_limited_total", "Requests refused with 429, by the limit hit",
                               ["scope"])
TOKEN_CACHE = metrics.counter("vo2_gateway_token_cache_total", "Access-token checks answered from the cache (hit) "
                              "or by verifying the signature (miss)", ["result"])

OWN_ROUTES = routes.OWN_PUBLIC_PATHS | routes.HEALTH_PATHS | {"/.well-known/jwks.json"}


class GatewayMetrics:
    def __init__(self):
        self.requests = metrics.RequestMetrics("gateway")
        self.in_flight = self.requests.in_flight
        self._upstream: dict[str, object] = {}
        self._errors: dict[tuple, object] = {}
        self._limited: dict[str, object] = {}
        self.token_hit, self.token_miss = TOKEN_CACHE.labels("hit"), TOKEN_CACHE.labels("miss")

    @staticmethod
    def route(path: str) -> str:
        """The label for a path: its routing prefix (bounded), the gateway's own path, or `unmatched`."""
        if path in OWN_ROUTES:
            return path
        hit = routes.route_for(path)
        return hit if hit is not None else "unmatched"

    def upstream(self, service: str, seconds: float) -> None:
        child = self._upstream.get(service)
        if child is None:
            child = self._upstream[service] = UPSTREAM_DURATION.labels(service)
        child.observe(seconds)

    def upstream_error(self, service: str, kind: str) -> None:
        child = self._errors.get((service, kind))
        if child is None:
            child = self._errors[(service, kind)] = UPSTREAM_ERRORS.labels(service, kind)
        child.inc()

    def rate_limited(self, scope: str) -> None:
        child = self._limited.get(scope)
        if child is None:
            child = self._limited[scope] = RATE_LIMITED.labels(scope)
        child.inc()


def watch_pools(upstream, service_urls: dict[str, str]) -> None:
    """Pool use, read when scraped (the native client's pools; the other clients do not show theirs)."""
    by_url = {url: name for name, url in service_urls.items()}

    def read():
        client = getattr(upstream.backend, "client", None)
        for base_url, pool in list(getattr(client, "pools", {}).items()):
            name = by_url.get(base_url, base_url)
            idle = len(pool.idle)
            busy = max(0, client.max_connections - pool.slots.free)
            UPSTREAM_CONNECTIONS.labels(name, "busy").set(busy)
            UPSTREAM_CONNECTIONS.labels(name, "idle").set(idle)

    metrics.on_scrape(read)
