"""Bounded validation errors (core/validation.py): what is listed, what is counted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from core.validation import MAX_FIELD_NAME_CHARS, MAX_LISTED_ERRORS, InvalidInput, validate


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flag: bool | None = None


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(alias="displayName", max_length=5)
    inner: Inner | None = None


def _refusal(payload: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate(Outer.model_validate, Outer, payload)
    return caught.value


def test_valid_input_passes_through_aliases_and_nested_models() -> None:
    outer = validate(Outer.model_validate, Outer, {"displayName": "ann", "inner": {"flag": True}})
    assert outer.name == "ann" and outer.inner == Inner(flag=True)


def test_known_field_errors_come_first_then_unknown_keys_counted() -> None:
    payload = {"displayName": "far too long", **{f"x{n}": n for n in range(1000)}}
    problems = _refusal(payload).problems
    assert problems.total == 1001 and problems.truncated
    assert len(problems.listed) == MAX_LISTED_ERRORS
    assert problems.listed[0][0] == "displayName"
    assert problems.listed[1] == ("x0", "Extra inputs are not permitted")


def test_unknown_keys_of_nested_models_and_long_names() -> None:
    problems = _refusal({"name": "a", "inner": {"flag": True, "k" * 10_000: 1}}).problems
    assert problems.total == 1 and not problems.truncated
    (name, _), = problems.listed  # fmt: skip
    assert name.startswith("inner.kkk") and len(name) == MAX_FIELD_NAME_CHARS


def test_a_prefix_names_the_union_member() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate(Outer.model_validate, Outer, {"name": "a", "odd": 1}, prefix=("outer",))
    assert caught.value.problems.listed == (("outer.odd", "Extra inputs are not permitted"),)
