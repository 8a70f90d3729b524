"""Shapes shared by every resource."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """A request body or query: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class SuccessMessage(BaseModel):
    success: bool = True
    message: str
