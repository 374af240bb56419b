"""The lab staff's web console (`web/`, built into `web/dist` by `./vo2 setup`), served at `/`.

Only GET/HEAD of paths outside `/api/` and `/.well-known/`: `/assets/<hashed name>` are immutable and cached for a
year; every other path is the single page `index.html` (never cached, so a new build shows at the next load), which
routes in the browser. Files are read once and kept in memory with their gzip form (the whole build is ~100 KB).
A strict Content-Security-Policy goes on every answer: only this origin's scripts and styles, nothing inline.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
from pathlib import Path

from .proxy import SECURITY_HEADERS

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "web" / "dist"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
IMMUTABLE = b"public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json",
         ".woff2": "font/woff2", ".png": "image/png", ".ico": "image/x-icon"}
COMPRESSIBLE = {".js", ".css", ".html", ".svg", ".json"}
NOT_BUILT = (b"<!doctype html><meta charset=utf-8><title>VO2max Report</title><p>The web console is not built: "
             b"run <code>./vo2 setup</code> (it needs node and npm). The API is at /api/v1/.</p>")


def maybe_console(method: str, path: str) -> bool:
    """Cheap first test: the API, JWKS and the gateway's own routes are never the console's."""
    return method in ("GET", "HEAD") and not path.startswith(("/api/", "/.well-known/")) \
        and path not in ("/healthz", "/readyz", "/api")


class _File:
    __slots__ = ("body", "gzipped", "content_type", "etag", "cache")

    def __init__(self, body: bytes, suffix: str, cache: bytes):
        self.body = body
        self.gzipped = gzip.compress(body, 9, mtime=0) if suffix in COMPRESSIBLE and len(body) > 512 else None
        self.content_type = (TYPES.get(suffix) or mimetypes.guess_type("x" + suffix)[0]
                             or "application/octet-stream").encode()
        self.etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
        self.cache = cache


class Console:
    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or DEFAULT_DIR)
        self._files: dict[str, _File] | None = None
        self._index_mtime = None

    def _load(self) -> dict[str, _File]:
        index = self.directory / "index.html"
        mtime = index.stat().st_mtime_ns if index.exists() else None
        if self._files is not None and mtime == self._index_mtime:
            return self._files
        files: dict[str, _File] = {}
        if mtime is not None:  # a rebuild replaces index.html: the cache follows it
            for path in self.directory.rglob("*"):
                if path.is_file() and not path.name.startswith("."):
                    rel = "/" + path.relative_to(self.directory).as_posix()
                    cache = IMMUTABLE if rel.startswith("/assets/") else b"no-cache"
                    files[rel] = _File(path.read_bytes(), path.suffix.lower(), cache)
        self._files, self._index_mtime = files, mtime
        return files

    def serves(self, method: str, path: str) -> bool:
        """A file of the build, anything under /assets/ (a missing one is a 404 here), or a route of the single
        page (a path whose last segment has no dot). Other paths (/favicon.ico when the build has none) stay the
        gateway's: 401 without a token, 404 problem with one."""
        if not maybe_console(method, path):
            return False
        return path.startswith("/assets/") or path in self._load() or "." not in path.rsplit("/", 1)[-1]

    async def __call__(self, scope, receive, send, request_id: str) -> int:
        files = self._load()
        path = scope["path"]
        found = files.get(path)
        if found is None and path.startswith("/assets/"):
            status, body, headers = 404, b"not found", [(b"content-type", b"text/plain; charset=utf-8"),
                                                       (b"cache-control", b"no-store")]
            return await self._send(send, scope, status, body, headers, request_id)
        if found is None:
            found = files.get("/index.html")
        if found is None:
            return await self._send(send, scope, 503, NOT_BUILT, [(b"content-type", b"text/html; charset=utf-8"),
                                                                   (b"cache-control", b"no-store")], request_id)
        request_headers = dict(scope["headers"])
        headers = [(b"content-type", found.content_type), (b"cache-control", found.cache), (b"etag", found.etag),
                   (b"vary", b"Accept-Encoding")]
        if request_headers.get(b"if-none-match") == found.etag:
            return await self._send(send, scope, 304, b"", headers, request_id)
        body = found.body
        if found.gzipped is not None and b"gzip" in request_headers.get(b"accept-encoding", b""):
            body = found.gzipped
            headers.append((b"content-encoding", b"gzip"))
        return await self._send(send, scope, 200, body, headers, request_id)

    @staticmethod
    async def _send(send, scope, status, body, headers, request_id) -> int:
        headers = [*headers, (b"content-length", str(len(body)).encode()), (b"content-security-policy", CSP.encode()),
                   (b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
        return status
