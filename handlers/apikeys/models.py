"""API keys as administrators create and list them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from server.http.models import RequestModel, text_schema, trim_not_blank

Scope = Literal["ingest"]


class ApiKeyCreate(RequestModel):
    name: Annotated[
        str,
        StringConstraints(max_length=100),
        AfterValidator(trim_not_blank),
        text_schema(100, not_blank=True),
    ] = Field(description="What the key is for, e.g. the scraper's name")
    scopes: list[Scope] = Field(default=["ingest"], min_length=1, max_length=1)


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it")
    scopes: list[str]
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    success: bool = True
    api_key: ApiKeyOut
    key: str = Field(description="The key itself: shown this once, stored only as a hash")


class ApiKeyList(BaseModel):
    success: bool = True
    api_keys: list[ApiKeyOut]


class ApiKeyResponse(BaseModel):
    success: bool = True
    api_key: ApiKeyOut
