"""Who the client is, and which public URL it used: believed from X-Forwarded-* only when the peer is a configured
proxy (TRUSTED_PROXIES, empty by default in every mode).

uvicorn's own proxy-header handling is switched off (`--no-proxy-headers`): it trusts X-Forwarded-For from
127.0.0.1 by default, which in local mode is every client, so anyone could pick the address rate limits count.
"""
from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

_HOST = re.compile(rb"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_PREFIX = re.compile(rb"^(/[A-Za-z0-9_~\-][A-Za-z0-9._~\-]*)*$")  # no dot segments


class Origin(NamedTuple):
    client_ip: str
    proto: bytes
    host: bytes | None
    prefix: bytes  # path prefix an outer proxy mounted the gateway under ("" when none)


class TrustedProxies:
    def __init__(self, networks: tuple):
        self.networks = networks
        self._seen: dict[str, bool] = {}

    def trusts(self, ip: str) -> bool:
        known = self._seen.get(ip)
        if known is None:
            try:
                address = ipaddress.ip_address(ip)
                known = any(address in network for network in self.networks)
            except ValueError:
                known = False
            if len(self._seen) < 4096:  # bounded: addresses are attacker-chosen
                self._seen[ip] = known
        return known

    def resolve(self, peer: str, scheme: str, head) -> Origin:
        """The real client: the peer itself, or (peer a trusted proxy) the right-most X-Forwarded-For entry that is
        not a trusted proxy. Proto/host/prefix come from a trusted proxy's headers, else from this connection."""
        host = head.host
        if not self.networks or not self.trusts(peer):
            return Origin(peer, scheme.encode(), host if host and _HOST.match(host) else None, b"")
        client = peer
        if head.forwarded_for:
            hops = [h.strip() for v in head.forwarded_for for h in v.decode("latin-1").split(",") if h.strip()]
            for hop in reversed(hops):
                client = hop
                if not self.trusts(hop):
                    break
            try:
                client = str(ipaddress.ip_address(client))
            except ValueError:
                client = peer  # garbage in the header: count the proxy itself
        proto = (head.forwarded_proto or scheme.encode()).split(b",")[-1].strip().lower()
        if proto not in (b"http", b"https"):
            proto = scheme.encode()
        forwarded_host = (head.forwarded_host or b"").split(b",")[-1].strip()
        if forwarded_host and _HOST.match(forwarded_host):
            host = forwarded_host
        elif host and not _HOST.match(host):
            host = None
        prefix = (head.forwarded_prefix or b"").split(b",")[-1].strip().rstrip(b"/")
        if not _PREFIX.match(prefix):
            prefix = b""
        return Origin(client, proto, host, prefix)
