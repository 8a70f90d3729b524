"""Signed webhook deliveries: HMAC-SHA256 over a timestamp and the raw body.

The signature header reads `t=<unix seconds>,v1=<hex digest>` where the digest is
HMAC-SHA256(secret, f"{t}.".encode() + raw_body) (the scheme Stripe and others use). Signing
the timestamp with the body lets the receiver refuse old deliveries (a captured request
replayed later) without trusting an unsigned header; the digest itself identifies a delivery
so a replay inside the tolerance window can be recognised.
"""

from __future__ import annotations

import hashlib
import hmac

from core.errors import Unauthorized

SIGNATURE_HEADER = "X-Webhook-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for a delivery of `body` at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str | None, body: bytes, *, now: float, tolerance: float) -> str:
    """The delivery's digest if `header` signs `body` and is fresh; UNAUTHORIZED otherwise.

    The comparison takes constant time; the reason given never says which part was right.
    """
    if not header:
        raise Unauthorized("Missing webhook signature", details={"reason": "missing_signature"})
    fields: dict[str, str] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        fields.setdefault(name, value)
    try:
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        raise Unauthorized(
            "Malformed webhook signature", details={"reason": "malformed_signature"}
        ) from None
    expected = sign(secret, timestamp, body).rpartition("v1=")[2]
    if not hmac.compare_digest(expected, given):
        raise Unauthorized("Invalid webhook signature", details={"reason": "bad_signature"})
    if abs(now - timestamp) > tolerance:
        raise Unauthorized("Stale webhook delivery", details={"reason": "stale_timestamp"})
    return expected
