"""Shapes shared by every domain's edge: the request base, URL and name fields, reactions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, WithJsonSchema

from core import text
from core.text import SPACE_CLASS
from core.urls import PUBLIC_URL, check_public_url

MAX_URL_LENGTH = 2048

# A playable or displayable address: an http(s) URL to a public host name or a path on this
# server (/static/...). core/urls.py says what is refused and why; the schema publishes its rule.
Url = Annotated[
    str,
    StringConstraints(max_length=MAX_URL_LENGTH),
    AfterValidator(check_public_url),
    WithJsonSchema(
        {"type": "string", "maxLength": MAX_URL_LENGTH, "pattern": PUBLIC_URL.pattern},
        mode="validation",
    ),
]
# Text fields are trimmed of surrounding whitespace. Their limits apply to what the client sent
# and "required" means "not blank", so that the schema (`text_schema`) states the rule exactly:
# a pattern for "some non-space character" instead of a length the trimming would change.
NOT_BLANK_PATTERN = rf"^[^\x00]*[^{SPACE_CLASS}\x00][^\x00]*$"


def text_schema(max_length: int, *, not_blank: bool) -> WithJsonSchema:
    schema: dict[str, object] = {"type": "string", "maxLength": max_length}
    if not_blank:
        schema["pattern"] = NOT_BLANK_PATTERN
    return WithJsonSchema(schema, mode="validation")


def trim(value: str) -> str:
    return text.trim(value)


def trim_not_blank(value: str) -> str:
    if not (value := text.trim(value)):
        raise ValueError("must not be blank")
    return value


DisplayName = Annotated[
    str,
    StringConstraints(max_length=50),
    AfterValidator(trim_not_blank),
    text_schema(50, not_blank=True),
]

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
