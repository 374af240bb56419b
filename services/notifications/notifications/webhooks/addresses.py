"""Where a webhook may be sent (SSRF rules). With the public-only rules on (SaaS mode's default,
WEBHOOK_PUBLIC_ONLY): https only, the host resolved once, and every address it resolves to must be a public
unicast one (no loopback, private, link-local, shared, multicast, reserved, unspecified or cloud-metadata ranges,
IPv4 or IPv6, IPv4-mapped/compatible/6to4/NAT64 forms looked through). The request then connects to the address
checked here (no second resolution: no DNS rebinding) and follows no redirect. Local mode (a lab's own network)
allows http and private addresses unless the setting turns the rules on."""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

# metadata services that are not caught by the generic ranges everywhere (AWS IPv6 IMDS is in fc00::/7 anyway)
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(ValueError):
    """The URL may not be called; the message says why (shown to the integrator)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str            # as written in the URL (Host header, TLS server name)
    port: int
    address: str         # the one resolved address the request connects to
    path: str            # path + query


def public_only() -> bool:
    return bool(settings.WEBHOOK_PUBLIC_ONLY)


def _embedded_ipv4(ip: ipaddress.IPv6Address):
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:   # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip) -> bool:
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and not is_public(inner):
            return False
    if ip in METADATA:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_private
                                 or ip.is_reserved or ip.is_unspecified)


def _split(url: str):
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("the URL must be http(s)://host/…")
    if parts.username or parts.password:
        raise Refused("the URL must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused(f"the URL's port is not valid: {exc}") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(url: str, *, strict: bool | None = None) -> Target:
    """The URL checked and resolved once; raises Refused."""
    strict = public_only() if strict is None else strict
    scheme, host, port, path = _split(url)
    if strict and scheme != "https":
        raise Refused("webhook URLs must use https")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"the host {host!r} does not resolve") from exc
    addresses = []
    for info in infos:
        address = info[4][0].split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Refused(f"the host {host!r} does not resolve")
    if strict:
        # every answer must be public: a name with one private answer could be steered to it
        for address in addresses:
            if not is_public(address):
                raise Refused(f"the host {host!r} resolves to {address}, which is not a public address")
    return Target(scheme, host, port, addresses[0], path)


def check(url: str) -> None:
    """For creation and edits: the same rules as a delivery."""
    resolve(url)
