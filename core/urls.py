"""Which addresses a client may store for media and avatars: public web URLs or our own paths.

These URLs are shown to other users and, once the media pipeline fetches them, requested by
the server itself, so they must not point a browser elsewhere in disguise (`//evil.example`,
`/\\evil.example`) nor the server at its own network (loopback, private, link-local hosts).
A hostname is checked by its form only: whoever fetches it must check the address it resolves
to as well.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# Quotes, angle brackets, backslashes, whitespace and control characters have no place in a
# URL we hand to clients: they only serve to break out of an attribute or confuse a parser.
_FORBIDDEN = re.compile(r'["<>\\\s\x00-\x1f\x7f]')
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


def check_public_url(value: str) -> str:
    """`value` if it is an absolute http(s) URL to a public host or a path on this server."""
    if _FORBIDDEN.search(value):
        raise ValueError("must not contain quotes, angle brackets, backslashes or spaces")
    if value.startswith("/"):
        if value.startswith("//"):
            raise ValueError("must be a path on this server or an absolute http(s) URL")
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL or a path starting with /")
    if "@" in parts.netloc:
        raise ValueError("must not carry a user name or password")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValueError("has an invalid port") from None
    host = (parts.hostname or "").rstrip(".")
    if not _is_public_host(host):
        raise ValueError("must point to a public host")
    return value


def _is_public_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        pass
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return False
    labels = host.split(".")
    # One label ("intranet") is a local name; an all-numeric or hex last label is an IP address
    # in a form ipaddress does not parse (`2130706433`, `0x7f.1`), which browsers still accept.
    if len(labels) < 2 or re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", labels[-1]):
        return False
    return all(_LABEL.match(label) for label in labels)
