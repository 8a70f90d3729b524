"""Client addresses: who is calling, as far as the proxies we trust vouch for it."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES), set by the composition root.
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def in_networks(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """The caller's address: X-Forwarded-For is believed only when the peer is a trusted proxy.

    Walking the header from the right, each trusted proxy vouches for the address on its left.
    The first address that is not a trusted proxy is the client. Anything further left was
    written by the client and could be forged.
    """
    peer = request.remote or "unknown"
    if not trusted or not in_networks(peer, trusted):
        return peer
    # Every field line, in order: a proxy may append its own line rather than join the
    # client's, and reading only the first would start the walk inside client-written data.
    lines = ",".join(request.headers.getall("X-Forwarded-For", []))
    hops = [hop for hop in (part.strip() for part in lines.split(",")) if hop]
    for hop in reversed(hops):
        if not in_networks(hop, trusted):
            return hop if _valid_ip(hop) else peer
    # Every hop is one of our proxies: the left-most is the closest we know to the client.
    return hops[0] if hops and _valid_ip(hops[0]) else peer


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def caller_ip(request: web.Request) -> str:
    """The client address of `request` under the app's TRUSTED_PROXIES."""
    return client_ip(request, request.app.get(TRUSTED_PROXIES, ()))
