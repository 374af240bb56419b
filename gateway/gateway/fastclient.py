"""A small HTTP/1.1 upstream client on asyncio protocols and httptools (the C parser uvicorn uses).

Why it exists: on the 2-core bench machine the gateway's cost per proxied request was dominated by the client
library's Python overhead (plain httpx ≈ 1 ms CPU/request, httpx-aiohttp ≈ 0.7 ms, aiohttp alone ≈ 0.6 ms), which
kept throughput through the gateway far below the 50 %-of-direct target; see bench/gateway.py. This client does the
one thing a reverse proxy needs — forward an already-validated request over a pooled keep-alive connection and
stream the answer back — in one write per request and C-parsed responses. It is selected with
UPSTREAM_TRANSPORT=native (the default); `aiohttp`, `httpx-aiohttp` and `httpx` remain available.

Scope (deliberately small): plain http:// upstreams inside the deployment, HTTP/1.1, keep-alive pool per upstream
with an idle expiry below the servers' own keep-alive timeouts, bounded connections, connect/read timeouts, request
bodies streamed (Content-Length kept, otherwise chunked), response bodies streamed with back-pressure, `Expect`
removed (the gateway's server already answered 100-continue to the client), HEAD answered without body and its
connection not reused. A request without a body that fails on a reused connection before any response byte (the
upstream closed the idle connection at that moment) is retried once on a new connection.
"""
from __future__ import annotations

import asyncio
import collections
import time
from urllib.parse import urlsplit

import httptools

_FRAMING = frozenset({b"content-length", b"transfer-encoding"})
_FRAMING_LENGTHS = frozenset(len(name) for name in _FRAMING)
HIGH_WATER = 1024 * 1024  # response bytes buffered before we stop reading from the upstream
LOW_WATER = 256 * 1024


class UpstreamConnectError(ConnectionError):
    pass


class UpstreamTimeout(TimeoutError):
    pass


class UpstreamProtocolError(ConnectionError):
    pass


def _expire(waiter: asyncio.Future, message: str) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout(message))


async def _wait(loop, waiter: asyncio.Future, timeout: float, message: str) -> None:
    """Await `waiter`, failing it with UpstreamTimeout after `timeout` s. One loop timer instead of
    `asyncio.timeout()`, whose Python-level bookkeeping cost several % of the gateway's time per proxied request."""
    timer = loop.call_later(timeout, _expire, waiter, message)
    try:
        await waiter
    finally:
        timer.cancel()


class _Slots:
    """How many requests may be in flight to one upstream. asyncio.Semaphore's fast path (its `locked()` scans
    the waiters) was a few % of the gateway's time per request; this one is a counter while slots are free and
    hands a released slot straight to the oldest waiter otherwise."""

    def __init__(self, size: int):
        self.free = size
        self.waiters: collections.deque[asyncio.Future] = collections.deque()

    async def take(self, timeout: float) -> None:
        if self.free > 0:
            self.free -= 1
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self.waiters.append(waiter)
        try:
            await _wait(loop, waiter, timeout, "no free upstream connection in time")
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.give()  # the slot was handed over just as we were cancelled: pass it on
            raise

    def give(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():  # skip waiters that timed out or were cancelled
                waiter.set_result(None)
                return
        self.free += 1


class _Conn(asyncio.Protocol):
    def __init__(self, loop):
        self.loop = loop
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._write_paused = False
        self._drain_waiter: asyncio.Future | None = None
        self.reset()

    def reset(self):
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.framed = False  # Content-Length or Transfer-Encoding seen
        self.keep_alive = False
        self.until_eof = False
        self.got_bytes = False
        self.headers_done: asyncio.Future = self.loop.create_future()
        self.body: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.error: BaseException | None = None
        self._body_waiter: asyncio.Future | None = None
        self._reading_paused = False

    # ---- asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"malformed upstream response: {exc}"))

    def eof_received(self):
        return False  # close our side too

    def connection_lost(self, exc):
        self.closed = True
        if not self.complete and self.until_eof and self.headers_done.done() and self.error is None:
            self.complete = True
            self._wake()
        if not self.complete:
            self._fail(exc or ConnectionResetError("upstream closed the connection"))
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def pause_writing(self):
        self._write_paused = True

    def resume_writing(self):
        self._write_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    # ---- httptools callbacks
    def on_header(self, name: bytes, value: bytes):
        self.headers.append((name, value))
        if len(name) in _FRAMING_LENGTHS and name.lower() in _FRAMING:  # the length test spares most lower() calls
            self.framed = True

    def on_headers_complete(self):
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        if 100 <= self.status < 200 and self.status != 101:
            self.headers = []  # interim response (e.g. 103): wait for the final one
            self.framed = False
            return
        self.until_eof = not self.framed and self.status not in (204, 304)  # body delimited by the connection close
        if not self.headers_done.done():
            self.headers_done.set_result(None)
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)  # an early answer ends a blocked body upload

    def on_body(self, body: bytes):
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self):
        if 100 <= self.status < 200 and self.status != 101:
            return
        self.complete = True
        self._wake()

    # ---- helpers
    def _wake(self):
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException):
        if self.error is None:
            self.error = exc
        if not self.headers_done.done():
            self.headers_done.set_exception(exc)
            self.headers_done.exception()  # mark retrieved: nobody may be waiting
        self._wake()

    async def drain(self, timeout: float):
        if self._write_paused and not self.closed and not self.headers_done.done():
            self._drain_waiter = self.loop.create_future()
            try:
                await _wait(self.loop, self._drain_waiter, timeout, "upstream did not take the request body in time")
            finally:
                self._drain_waiter = None
        if self.closed:
            raise self.error or ConnectionResetError("upstream closed the connection")

    async def next_chunk(self, timeout: float) -> bytes | None:
        """The next body chunk, or None at the end of the body."""
        while True:
            if self.body:
                chunk = self.body.popleft()
                self.buffered -= len(chunk)
                if self._reading_paused and self.buffered < LOW_WATER and self.transport is not None:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            self._body_waiter = self.loop.create_future()
            try:
                await _wait(self.loop, self._body_waiter, timeout, "upstream body read timed out")
            finally:
                self._body_waiter = None

    def close(self):
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Keep-alive connections to one upstream (host, port)."""

    def __init__(self, base_url: str, max_connections: int, keepalive_s: float, connect_timeout: float,
                 read_timeout: float):
        parts = urlsplit(base_url)
        if parts.scheme != "http":
            raise ValueError(f"the native upstream client speaks plain http only, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.host_header = (parts.netloc or self.host).encode()
        self.keepalive_s, self.connect_timeout, self.read_timeout = keepalive_s, connect_timeout, read_timeout
        self.idle: collections.deque[_Conn] = collections.deque()
        self.slots = _Slots(max_connections)

    async def _new(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(lambda: _Conn(loop), self.host, self.port)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"connect to {self.host}:{self.port} timed out") from exc
        except OSError as exc:
            raise UpstreamConnectError(f"connect to {self.host}:{self.port} failed: {exc}") from exc
        return conn

    def _take_idle(self) -> _Conn | None:
        now = time.monotonic()
        while self.idle:
            conn = self.idle.pop()  # most recently used first: warmest, least likely to have been closed
            if not conn.closed and conn.error is None and now - conn.idle_since < self.keepalive_s:
                return conn
            conn.close()
        return None

    def release(self, conn: _Conn, reusable: bool) -> None:
        if reusable and not conn.closed:
            conn.idle_since = time.monotonic()
            conn.reset()
            self.idle.append(conn)
        else:
            conn.close()
        self.slots.give()

    async def request(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body) -> _Conn:
        """Send the request; returns the connection once the response headers are in (status, headers set)."""
        await self.slots.take(self.connect_timeout)  # all connections busy: wait for one, bounded
        try:
            head = [method.encode(), b" ", target, b" HTTP/1.1\r\nhost: ", self.host_header, b"\r\n"]
            has_length = False
            for name, value in headers:
                if name == b"expect":
                    continue
                if name == b"content-length":
                    has_length = True
                head += (name, b": ", value, b"\r\n")
            chunked = body is not None and not has_length
            if chunked:
                head.append(b"transfer-encoding: chunked\r\n")
            head.append(b"\r\n")
            data = b"".join(head)
            for attempt in (0, 1):
                conn = self._take_idle() if attempt == 0 else None
                reused = conn is not None
                if conn is None:
                    conn = await self._new()
                try:
                    conn.transport.write(data)
                    if body is not None:
                        await self._send_body(conn, body, chunked)
                    if not conn.headers_done.done():
                        await _wait(conn.loop, conn.headers_done, self.read_timeout, "upstream did not answer in time")
                    conn.headers_done.result()  # raises what _fail() set, if the answer was an error
                    return conn
                except TimeoutError as exc:  # before OSError: TimeoutError is one of its subclasses
                    conn.close()
                    if isinstance(exc, UpstreamTimeout):
                        raise
                    raise UpstreamTimeout("upstream did not answer in time") from exc
                except (ConnectionError, OSError) as exc:
                    conn.close()
                    if reused and body is None and not conn.got_bytes:
                        continue  # the upstream closed this idle connection just now: once more, fresh
                    if isinstance(exc, UpstreamProtocolError):
                        raise
                    raise UpstreamConnectError(f"upstream connection failed: {exc}") from exc
                except BaseException:
                    conn.close()
                    raise
            raise UpstreamConnectError("upstream connection failed")
        except BaseException:
            self.slots.give()
            raise

    async def _send_body(self, conn: _Conn, body, chunked: bool) -> None:
        write = conn.transport.write
        async for chunk in body:
            if conn.headers_done.done():
                break  # the upstream answered early (e.g. an error): stop sending, do not reuse
            if chunked:
                write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            else:
                write(chunk)
            await conn.drain(self.read_timeout)
        else:
            if chunked:
                write(b"0\r\n\r\n")
            return
        conn.keep_alive = False


class NativeClient:
    """One pool per upstream base URL."""

    def __init__(self, max_connections: int, keepalive_s: float, connect_timeout: float, read_timeout: float):
        self.max_connections, self.keepalive_s = max_connections, keepalive_s
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.pools: dict[str, Pool] = {}

    def pool(self, base_url: str) -> Pool:
        pool = self.pools.get(base_url)
        if pool is None:
            pool = self.pools[base_url] = Pool(base_url, self.max_connections, self.keepalive_s,
                                               self.connect_timeout, self.read_timeout)
        return pool

    async def aclose(self) -> None:
        for pool in self.pools.values():
            while pool.idle:
                pool.idle.pop().close()
