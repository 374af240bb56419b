"""One OpenAPI document merged from every service's own `GET {SERVICE_URL}/openapi.json`, and an offline docs page.

Cached for OPENAPI_CACHE_S. A service that cannot be fetched is skipped and named in `info.description`.
`paths` and every `components` section are merged; when two services define *different* components under the same
name, the later one is renamed `<service>_<Name>` and that service's `$ref`s are rewritten before merging.
"""
from __future__ import annotations

import asyncio
import copy
import html
import json
import logging
import re
import time

import httpx
from servicekit.problems import PROBLEM_SCHEMA

from .settings import SERVICES, Settings

log = logging.getLogger("gateway.openapi")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The docs page is one self-contained document: its inline style, nothing else; it may not be framed.
DOCS_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")


def _rewrite_refs(node, renames: dict[str, str]):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value in renames:
                out[key] = renames[value]
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def to_openapi_31(node):
    """OpenAPI 3.0 `nullable: true` → 3.1 (JSON Schema) `type: [..., "null"]` (3.1 removed `nullable`, so
    generators would type those fields as non-nullable). Already-3.1 schemas pass unchanged."""
    if isinstance(node, list):
        return [to_openapi_31(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_openapi_31(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        elif isinstance(kind, list):
            if "null" not in kind:
                out["type"] = [*kind, "null"]
        else:  # a $ref or a composition: "this, or null"
            keep = {k: v for k, v in out.items() if k in ("description", "title", "readOnly", "writeOnly",
                                                           "default", "example", "deprecated")}
            rest = {k: v for k, v in out.items() if k not in keep}
            out = {**keep, "anyOf": [rest, {"type": "null"}]} if rest else {**keep, "type": "null"}
    return out


def _one_security_scheme(document: dict) -> dict:
    """Every service documents the same bearer JWT under its own name: point them all at the gateway's one."""
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    names = {name for name, scheme in schemes.items() if isinstance(scheme, dict) and scheme.get("type") == "http"
             and str(scheme.get("scheme", "")).lower() == "bearer"}
    if not names:
        return document
    document = copy.deepcopy(document)
    for name in names:
        document["components"]["securitySchemes"].pop(name, None)
    if not document["components"]["securitySchemes"]:
        document["components"].pop("securitySchemes")

    def rename(requirements):
        if not isinstance(requirements, list):
            return requirements
        return [{("bearerAuth" if key in names else key): value for key, value in item.items()}
                if isinstance(item, dict) else item for item in requirements]

    for item in (document.get("paths") or {}).values():
        for method in METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if isinstance(operation, dict) and "security" in operation:
                operation["security"] = rename(operation["security"])
    return document


PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
# What the gateway itself may answer on any operation, before or instead of the service.
GATEWAY_STATUSES = {"414": "URL too long", "429": "Too many requests (Retry-After, RateLimit headers)",
                    "431": "A request header is too large", "502": "The service is unavailable",
                    "504": "The service did not answer in time"}


def _document_problems(document: dict) -> None:
    """Every operation lists the statuses the gateway adds (401 unless public, 413 with a body, 414, 429, 431,
    502, 504), and every 4xx/5xx without a body schema gets the problem+json one."""
    for item in document["paths"].values():
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            public = operation.get("security") == [{}]
            extra = dict(GATEWAY_STATUSES)
            if not public:
                extra["401"] = "No valid access token"
            if "requestBody" in operation:
                extra["413"] = "The request body is too large"
            for status, description in extra.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if str(status)[:1] in ("4", "5") and isinstance(response, dict) and "$ref" not in response \
                        and not response.get("content"):
                    response["content"] = copy.deepcopy(PROBLEM_CONTENT)


def merge(documents: dict[str, dict], missing: dict[str, str]) -> dict:
    """Merge per-service OpenAPI documents (service name → document) into one (OpenAPI 3.1, one security scheme,
    one form per path: a path documented with and without its trailing slash appears once)."""
    documents = {service: to_openapi_31(_one_security_scheme(document)) for service, document in documents.items()}
    merged: dict = {
        "openapi": "3.1.0",
        "info": {"title": "VO2max Report API", "version": "v1"},
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "security": [{"bearerAuth": []}],
        "tags": [],
    }
    notes = [f"Merged by the gateway from: {', '.join(documents) or 'no service'}."]
    if missing:
        notes.append("Not available right now (left out of this document): "
                     + "; ".join(f"{name} ({reason})" for name, reason in missing.items()) + ".")
    merged["info"]["description"] = "\n\n".join(notes)
    components, tags_seen, operation_ids = merged["components"], set(), set()
    for service, document in documents.items():
        doc_components = document.get("components") or {}
        renames: dict[str, str] = {}
        for section, items in doc_components.items():
            if not isinstance(items, dict):
                continue
            existing = components.get(section, {})
            for name, value in items.items():
                if name in existing and existing[name] != value:
                    renames[f"#/components/{section}/{name}"] = f"#/components/{section}/{service}_{name}"
        if renames:
            document = _rewrite_refs(document, renames)
            doc_components = document.get("components") or {}
        for section, items in doc_components.items():
            if not isinstance(items, dict):
                continue
            target = components.setdefault(section, {})
            for name, value in items.items():
                new = f"#/components/{section}/{name}"
                if new in renames:
                    name = renames[new].rsplit("/", 1)[1]
                target.setdefault(name, value)
        for path, item in (document.get("paths") or {}).items():
            other = path[:-1] if path.endswith("/") else path + "/"
            if other in merged["paths"]:  # the same route in the other slash form: one entry (PathShapes routes both)
                for method in METHODS:
                    if method in item and method not in merged["paths"][other]:
                        merged["paths"][other][method] = copy.deepcopy(item[method])
                continue
            if path in merged["paths"]:
                log.warning("openapi: %s also defines %s; keeping the first", service, path)
                continue
            item = copy.deepcopy(item)
            for method in METHODS:
                operation = item.get(method)
                if isinstance(operation, dict):
                    operation.setdefault("tags", [service])
                    op_id = operation.get("operationId")
                    if op_id:
                        if op_id in operation_ids:  # operationIds must be unique across the merged document
                            base, n = f"{service}_{op_id}", 2
                            op_id = base
                            while op_id in operation_ids:
                                op_id, n = f"{base}_{n}", n + 1
                            operation["operationId"] = op_id
                        operation_ids.add(op_id)
            merged["paths"][path] = item
        for tag in document.get("tags") or [{"name": service}]:
            if isinstance(tag, dict) and tag.get("name") not in tags_seen:
                tags_seen.add(tag.get("name"))
                merged["tags"].append(tag)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    components.setdefault("schemas", {}).setdefault("Problem", PROBLEM_SCHEMA)
    _document_problems(merged)
    return merged


class PathShapes:
    """The documented paths, for one trailing-slash rule at the gateway: a path the services document only in the
    other form (`/api/v1/athletes` for `/api/v1/athletes/`, `/api/v1/auth/login/` for `/api/v1/auth/login`) is
    forwarded in the documented form, so both forms work on every route. Unknown paths pass unchanged."""

    def __init__(self, paths=()):
        by_segment: dict[str, list[str]] = {}
        for template in paths:
            if not template.startswith("/api/v1/"):
                continue
            segment = template.split("/", 4)[3] if template.count("/") >= 3 else ""
            pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                              for part in re.split(r"(\{[^}/]+\})", template))
            by_segment.setdefault(segment, []).append(pattern)
        self._regex = {segment: re.compile("(?:" + "|".join(patterns) + ")")
                       for segment, patterns in by_segment.items()}

    def __bool__(self) -> bool:
        return bool(self._regex)

    def canonical(self, path: str) -> str:
        parts = path.split("/", 4)
        regex = self._regex.get(parts[3]) if len(parts) > 3 else None
        if regex is None or regex.fullmatch(path):
            return path
        other = path[:-1] if path.endswith("/") else path + "/"
        return other if regex.fullmatch(other) else path


class OpenAPIAggregator:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._cached: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()
        self.shapes = PathShapes()

    async def keep_shapes_fresh(self) -> None:
        """Background task: the documented path shapes, again every OPENAPI_CACHE_S (every 2 s while a service is
        missing, as at start-up when the gateway comes up first)."""
        while True:
            pause = 2.0
            try:
                document = await self.document()
                self.shapes = PathShapes(document.get("paths") or {})
                if "Not available" not in document.get("info", {}).get("description", ""):
                    pause = max(self.settings.openapi_cache_s, 2.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the task die; routing works without shapes
                log.warning("openapi: path shapes not refreshed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(pause)

    async def _fetch(self, client: httpx.AsyncClient, service: str) -> dict:
        response = await client.get(f"{self.settings.service_urls[service]}/openapi.json",
                                    headers={"accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict) or "paths" not in document:
            raise ValueError("not an OpenAPI document")
        return document

    async def document(self) -> dict:
        cached = self._cached
        if cached and time.monotonic() - cached[0] < self.settings.openapi_cache_s:
            return cached[1]
        async with self._lock:
            cached = self._cached
            if cached and time.monotonic() - cached[0] < self.settings.openapi_cache_s:
                return cached[1]
            async with httpx.AsyncClient(timeout=self.settings.openapi_timeout_s) as client:
                results = await asyncio.gather(*(self._fetch(client, s) for s in SERVICES), return_exceptions=True)
            documents, missing = {}, {}
            for service, result in zip(SERVICES, results):
                if isinstance(result, BaseException):
                    missing[service] = type(result).__name__
                    log.warning("openapi: %s skipped: %s: %s", service, type(result).__name__, result)
                else:
                    documents[service] = result
            merged = merge(documents, missing)
            # A document missing a service (still starting, or slow under load) is kept for a few seconds only.
            stamp = time.monotonic()
            if missing:
                stamp -= max(0.0, self.settings.openapi_cache_s - 5.0)
            self._cached = (stamp, merged)
            return merged


def docs_html(document: dict) -> str:
    """A self-contained page listing every operation (no CDN, works offline)."""
    esc = html.escape
    rows = []
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params = ", ".join(esc(f"{p.get('name')} ({p.get('in')})") for p in op.get("parameters", [])
                               if isinstance(p, dict) and "name" in p)
            body = ""
            content = (op.get("requestBody") or {}).get("content") or {}
            if content:
                body = esc(", ".join(content))
            rows.append(
                f"<tr><td class='m'>{method.upper()}</td><td><code>{esc(path)}</code></td>"
                f"<td>{esc(', '.join(op.get('tags', [])))}</td><td>{esc(op.get('summary') or op.get('description') or '')[:300]}</td>"
                f"<td>{params}</td><td>{body}</td></tr>")
    info = document.get("info", {})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(info.get('title', 'API'))}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}} table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}}
.m{{font-weight:bold;font-family:monospace}} pre{{background:#f6f6f6;padding:.5rem;white-space:pre-wrap}}
</style></head><body>
<h1>{esc(info.get('title', 'API'))} <small>{esc(str(info.get('version', '')))}</small></h1>
<pre>{esc(info.get('description', ''))}</pre>
<p>Machine-readable document: <a href="/api/openapi.json">/api/openapi.json</a>.
Authenticate with <code>Authorization: Bearer &lt;access token&gt;</code> from <code>POST /api/v1/auth/login</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Service</th><th>Summary</th><th>Parameters</th><th>Body</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>"""


def dumps(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
