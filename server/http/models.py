"""Shapes shared by every domain's edge: the request base, URL and name fields, reactions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from core.urls import check_public_url

MAX_URL_LENGTH = 2048

# A playable or displayable address: an http(s) URL to a public host or a path on this server
# (/static/...); see core/urls.py for what is refused and why.
Url = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=MAX_URL_LENGTH, pattern=r"^(https?://|/)\S+$"
    ),
    AfterValidator(check_public_url),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]

# CLUTCH's reactions to anything likeable (videos, comments): "remove" takes the reaction back.
ReactionAction = Literal["like", "dislike", "remove"]
ReactionState = Literal["liked", "disliked", "none"]


class RequestModel(BaseModel):
    """A request body or query: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class SuccessMessage(BaseModel):
    success: bool = True
    message: str


class LikeRequest(RequestModel):
    action: ReactionAction


class LikeResponse(BaseModel):
    success: bool = True
    user_action: ReactionState
    like_count: int
    dislike_count: int
