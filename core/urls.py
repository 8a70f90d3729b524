"""Which addresses a client may store for media and avatars: public web URLs or our own paths.

These URLs are shown to other users and, once the media pipeline fetches them, requested by
the server itself, so they must not point a browser elsewhere in disguise (`//evil.example`,
`/\\evil.example`) nor the server at its own network (loopback, private, link-local hosts).

The rule is one regular expression, `PUBLIC_URL`, which the OpenAPI document publishes as the
fields' `pattern`, so clients and fuzzers know exactly what is accepted:
- `http(s)://` and a host name of two or more labels ending in an alphabetic top-level label.
  That leaves out IP literals in every notation (`127.0.0.1`, `[::1]`, `2130706433`, `0x7f.1`),
  single-label names (`localhost`, `intranet`) and the local-only suffixes below; an optional
  port (1-65535); then a path, query or fragment.
- or a path on this server: `/` not followed by `/` or `\\`.
- nowhere quotes, angle brackets, backslashes, whitespace or control characters, which only
  serve to break out of an HTML attribute or confuse a parser.
A host name is judged by its form: whatever fetches such a URL must also check the address it
resolves to.
"""

from __future__ import annotations

import re

from core.text import SPACE_CLASS

_LOCAL_ONLY_TLDS = ("localhost", "localdomain", "local", "internal", "arpa")


def _any_case(word: str) -> str:
    # Spelled out per letter: JSON Schema patterns (ECMA-262) have no inline case flag.
    return "".join(f"[{c}{c.upper()}]" for c in word)


# Spaces as JSON Schema's regex dialect counts them (core/text.py), C0 and C1 controls.
_SAFE = rf'[^{SPACE_CLASS}"<>\\\x00-\x1f\x7f-\x9f]'
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = rf"(?!(?:{'|'.join(_any_case(w) for w in _LOCAL_ONLY_TLDS)})(?:[:/?#]|$))[A-Za-z]{{2,63}}"
_PORT = (  # 1-65535
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
)
_WEB = rf"https?://(?:{_LABEL}\.)+{_TLD}{_PORT}(?:[/?#]{_SAFE}*)?"
_OWN_PATH = rf"/(?:[^/{_SAFE[2:-1]}]{_SAFE}*)?"

PUBLIC_URL = re.compile(rf"^(?:{_WEB}|{_OWN_PATH})$")


def check_public_url(value: str) -> str:
    """`value` if it is an absolute http(s) URL to a public host name or a path on this server."""
    if PUBLIC_URL.fullmatch(value) is None:
        raise ValueError(
            "must be an http(s) URL to a public host name, or a path on this server starting "
            'with a single /, without spaces, quotes, "<", ">" or backslashes'
        )
    return value
