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
import time

import httpx

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


def merge(documents: dict[str, dict], missing: dict[str, str]) -> dict:
    """Merge per-service OpenAPI documents (service name → document) into one."""
    versions = [str(d.get("openapi", "3.0.3")) for d in documents.values()]
    merged: dict = {
        "openapi": "3.1.0" if any(v.startswith("3.1") for v in versions) else "3.0.3",
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
    return merged


class OpenAPIAggregator:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._cached: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()

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
            self._cached = (time.monotonic(), merged)
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
