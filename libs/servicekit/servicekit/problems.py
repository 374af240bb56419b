"""RFC 9457 problem details: one shape for every error of every service.

`type` is a stable URN a client can switch on; `detail` is for humans; `errors` lists field problems as
`{"field": ..., "detail": ...}`, with the validator's `code` where it has one (DRF's `required`, `blank`,
`max_length`, `invalid_choice`, ...; pydantic's `missing`, `string_too_long`, ...), so that a client can word the
field's problem in its own language.
"""
from __future__ import annotations

from http import HTTPStatus

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:vo2:problem:"


def problem(status: int, slug: str, detail: str, *, title: str | None = None, errors: list | None = None,
            **extra) -> dict:
    body = {
        "type": TYPE_PREFIX + slug,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


class ProblemError(Exception):
    """Raise anywhere in a service to answer with a problem+json response."""

    def __init__(self, status: int, slug: str, detail: str, *, errors: list | None = None, headers: dict | None = None,
                 **extra):
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail
        self.errors, self.headers, self.extra = errors, headers or {}, extra

    def body(self) -> dict:
        return problem(self.status, self.slug, self.detail, errors=self.errors, **self.extra)


# The problem body as an OpenAPI 3.1 schema (the FastAPI services and the gateway's merged document use it).
PROBLEM_SCHEMA = {
    "type": "object", "description": "RFC 9457 problem details; `type` is a stable `urn:vo2:problem:<slug>`.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": ["string", "null"]}, "detail": {"type": "string"},
            "code": {"type": "string", "description": "the validator's code, when it has one (e.g. required, "
                                                      "blank, max_length, invalid_choice)"}}}},
    },
    "additionalProperties": True,
}

# The slugs used across services (clients may rely on them). One status per type: `validation-error` is always 400.
SLUG_BY_STATUS = {
    400: "bad-request", 401: "not-authenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    406: "not-acceptable", 409: "conflict", 413: "payload-too-large", 414: "uri-too-long",
    415: "unsupported-media-type", 422: "unprocessable-content", 429: "rate-limited", 431: "header-too-large", 500: "internal-error", 502: "bad-gateway",
    503: "unavailable", 504: "gateway-timeout",
}


def _field_error(field: str | None, value) -> dict:
    code = getattr(value, "code", None)  # DRF's ErrorDetail is a str with the validator's code
    return {"field": field, "detail": str(value), **({"code": str(code)} if isinstance(code, str) and code else {})}


def flatten_field_errors(detail, prefix: str = "") -> list[dict]:
    """DRF/pydantic nested error structures → a flat list of {field, detail, code?}."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if not prefix else (f"{prefix}.{key}" if key != "non_field_errors" else prefix)
            if key == "non_field_errors" and not prefix:
                name = None
            out.extend(flatten_field_errors(value, name or ""))
    elif isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            out.extend(_field_error(prefix or None, v) for v in detail)
        else:
            for i, value in enumerate(detail):
                out.extend(flatten_field_errors(value, f"{prefix}[{i}]" if prefix else str(i)))
    else:
        out.append(_field_error(prefix or None, detail))
    return out
