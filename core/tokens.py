"""JWT access and refresh tokens as CLUTCH's "JWT Structure" and "JWT Configuration" describe.

Access tokens are stateless (15 minutes). Refresh tokens are JWTs too, but each one is also
recorded server-side (hashed) so it can be rotated once and revoked with its whole family.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from core.errors import Unauthorized

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    username: str
    email: str
    display_name: str
    avatar_url: str
    role: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    user_id: str
    token_id: str
    family_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedRefreshToken:
    token: str
    token_id: str
    family_id: str
    token_hash: str
    expires_at: datetime


def hash_token(token: str) -> str:
    """What the database stores instead of a refresh token: a leaked table logs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(
        self,
        *,
        secret: str,
        issuer: str,
        audience: str,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
    ) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def issue_access(self, user: dict[str, Any], *, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims = {
            "sub": str(user["id"]),
            "user_id": str(user["id"]),
            "username": user["username"],
            "email": user["email"],
            "display_name": user["display_name"],
            "avatar_url": user["avatar_url"],
            "role": user["role"],
            "type": "access",
            "iat": now,
            "exp": now + self.access_ttl,
            "iss": self._issuer,
            "aud": self._audience,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def issue_refresh(
        self, user_id: str, *, family_id: str | None = None, now: datetime | None = None
    ) -> IssuedRefreshToken:
        now = now or datetime.now(UTC)
        token_id = str(uuid.uuid4())
        family = family_id or str(uuid.uuid4())
        expires_at = now + self.refresh_ttl
        claims = {
            "sub": user_id,
            "user_id": user_id,
            "type": "refresh",
            "jti": token_id,
            "fam": family,
            "iat": now,
            "exp": expires_at,
            "iss": self._issuer,
            "aud": self._audience,
        }
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        return IssuedRefreshToken(token, token_id, family, hash_token(token), expires_at)

    def _decode(self, token: str, expected_type: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # pinned: never trust the header's `alg`
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token has expired", details={"reason": "token_expired"}) from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("Invalid token", details={"reason": "token_invalid"}) from exc
        if claims.get("type") != expected_type:
            raise Unauthorized("Invalid token", details={"reason": "wrong_token_type"})
        return claims

    def decode_access(self, token: str) -> AccessClaims:
        claims = self._decode(token, "access")
        try:
            return AccessClaims(
                user_id=claims["user_id"],
                username=claims["username"],
                email=claims["email"],
                display_name=claims.get("display_name") or "",
                avatar_url=claims.get("avatar_url") or "",
                role=claims["role"],
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except KeyError as exc:
            raise Unauthorized("Invalid token", details={"reason": "token_invalid"}) from exc

    def decode_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token, "refresh")
        try:
            return RefreshClaims(
                user_id=claims["user_id"],
                token_id=claims["jti"],
                family_id=claims["fam"],
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except KeyError as exc:
            raise Unauthorized("Invalid token", details={"reason": "token_invalid"}) from exc
