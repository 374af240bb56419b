"""Conditional requests (RFC 9110 §13) for JSON reads and the writes that change them.

A read answers with a strong `ETag` made from the exact answer (its canonical JSON), so the tag changes whenever
anything in the answer does (for an analysis: the result, the overrides, the engine version, the version number,
the tenant's zone model) and never otherwise. `If-None-Match` with a current tag → 304 with no body. A write that
honours `If-Match` refuses a stale tag with 412 `precondition-failed` (a missing `If-Match` is allowed: 428 is not
asked of clients). The gateway passes ETag, If-None-Match, If-Match and 304 through unchanged.
"""
from __future__ import annotations

import hashlib
import json

from ..problems import ProblemError

ETAG = "ETag"


def etag_of(data) -> str:
    """A strong entity tag for a JSON answer: the same data always gives the same tag (keys sorted)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def none_match(request, etag: str) -> bool:
    """True when the request's If-None-Match names `etag` (weak comparison, as RFC 9110 asks for If-None-Match)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    bare = etag.removeprefix("W/")
    return any(t == "*" or t.removeprefix("W/") == bare for t in _tags(header))


def respond(request, data, status: int = 200, headers: dict | None = None):
    """The JSON answer with its ETag; 304 (no body, same ETag) when the caller already holds it."""
    from rest_framework.response import Response

    etag = etag_of(data)
    if request.method in ("GET", "HEAD") and none_match(request, etag):
        return Response(status=304, headers={ETAG: etag, **(headers or {})})
    return Response(data, status=status, headers={ETAG: etag, **(headers or {})})


def require_match(request, current_etag: str | None) -> None:
    """A write with If-Match goes ahead only on the current representation (strong comparison): otherwise 412
    `precondition-failed`, nothing changed. No If-Match: no condition. `current_etag` None: nothing exists yet, so
    only `If-Match` absent passes."""
    header = request.headers.get("If-Match")
    if not header:
        return
    tags = _tags(header)
    if current_etag is not None and ("*" in tags or current_etag in tags):
        return
    raise ProblemError(412, "precondition-failed",
                       "If-Match does not name the current version of this resource; read it again (its ETag) "
                       "and send the change against that.",
                       errors=[{"field": "If-Match", "detail": "not the current ETag"}])
