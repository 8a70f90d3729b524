"""Refusing bad input costs no more than the input (HTTP bodies and WebSocket frames alike).

Guarantees:

- At most `MAX_LISTED_ERRORS` problems are listed, with the number there were in all, and a
  listed field name is cut to `MAX_FIELD_NAME_CHARS`. An answer to a bad request is therefore a
  few kilobytes whatever the request held.
- Keys a model forbids (`extra="forbid"`, nested models included) are found in one pass over
  the input and taken out before pydantic runs: pydantic builds an error object for every
  unknown key (a 1 MB body of them took 1.4 s of CPU), this pass costs a set lookup per key.
  Pydantic then reports the known fields' errors, listed first.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

MAX_LISTED_ERRORS = 20
MAX_FIELD_NAME_CHARS = 100
EXTRA_FIELD = "Extra inputs are not permitted"

T = TypeVar("T")


def field_name(parts: Iterable[object]) -> str:
    """A dotted field name, cut to MAX_FIELD_NAME_CHARS (a key may be as long as the input)."""
    name = ".".join(str(part) for part in parts)
    if len(name) > MAX_FIELD_NAME_CHARS:
        return name[: MAX_FIELD_NAME_CHARS - 1] + "…"
    return name


@dataclass(frozen=True, slots=True)
class Problems:
    """The first problems found, as (field, message), and how many there were in all."""

    listed: tuple[tuple[str, str], ...]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.listed)

    def by_field(self) -> dict[str, list[str]]:
        """CLUTCH's `field_errors`: field name ("body" for the whole input) -> messages."""
        grouped: dict[str, list[str]] = {}
        for name, message in self.listed:
            grouped.setdefault(name or "body", []).append(message)
        return grouped


class Collector:
    """Counts every problem added and keeps the first `limit`."""

    __slots__ = ("_listed", "limit", "total")

    def __init__(self, limit: int = MAX_LISTED_ERRORS) -> None:
        self.limit = limit
        self.total = 0
        self._listed: list[tuple[str, str]] = []

    def add(self, parts: Iterable[object], message: str) -> None:
        self.total += 1
        if len(self._listed) < self.limit:
            self._listed.append((field_name(parts), message))

    @property
    def full(self) -> bool:
        """Further problems are only counted (callers may skip building their names)."""
        return len(self._listed) >= self.limit

    def problems(self) -> Problems:
        return Problems(tuple(self._listed), self.total)


class InvalidInput(Exception):
    """Input failed validation; `problems` says where, within the bounds above."""

    def __init__(self, problems: Problems) -> None:
        super().__init__(f"{problems.total} validation errors")
        self.problems = problems


def validate(
    validator: Callable[[Any], T],
    model: type[BaseModel] | None,
    payload: dict[str, Any],
    *,
    prefix: tuple[str, ...] = (),
) -> T:
    """`validator(payload)` (a model's or adapter's `validate_python`), with the keys `model`
    forbids taken out first and reported after the other errors, under `prefix` (where the
    validator's own error locations put the model, e.g. a union's tag). Raises InvalidInput."""
    unknown = Collector()
    pruned = _prune(model, payload, (), unknown) if model is not None else payload
    found = Collector()
    try:
        value = validator(pruned)
    except ValidationError as exc:
        # Bounded: with unknown keys gone, errors come from the model's own fields (whose
        # lists and strings carry length limits that pydantic checks first).
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            found.add(error["loc"], error["msg"].removeprefix("Value error, "))
    else:
        if not unknown.total:
            return value
    for name, message in unknown.problems().listed:
        found.add((*prefix, name), message)
    found.total += unknown.total - len(unknown.problems().listed)
    raise InvalidInput(found.problems())


def _prune(
    model: type[BaseModel], payload: dict[str, Any], path: tuple[str, ...], unknown: Collector
) -> dict[str, Any]:
    """`payload` without the keys `model` (and the models nested in it) forbid."""
    if model.model_config.get("extra") != "forbid":
        return payload
    known = _known_keys(model)
    pruned: dict[str, Any] = {}
    for key, value in payload.items():
        if key not in known:
            if unknown.full:
                unknown.total += 1
            else:
                unknown.add((*path, key), EXTRA_FIELD)
            continue
        nested = known[key]
        if nested is not None and isinstance(value, dict):
            value = _prune(nested, value, (*path, key), unknown)
        pruned[key] = value
    return pruned


@functools.cache
def _known_keys(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """The keys `model` accepts, each with the model its value is validated by (if any)."""
    known: dict[str, type[BaseModel] | None] = {}
    for name, info in model.model_fields.items():
        nested = _model_in(info.annotation)
        aliases = (name, info.alias, info.validation_alias)
        for key in aliases:
            if isinstance(key, str):
                known[key] = nested
    return known


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The one pydantic model an annotation validates with (`M`, `M | None`), if any."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    found = {m for arg in typing.get_args(annotation) if (m := _model_in(arg)) is not None}
    return found.pop() if len(found) == 1 else None
