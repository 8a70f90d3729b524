"""Channel kinds: all the realtime core knows about the channels domains publish on.

The core (hub, session, node) names no domain. Each domain describes the kinds of channel it
owns, and the composition root registers them with the node before it starts, the way
Centrifuge's applications register their subscribe permissions as callbacks. A kind says:

- how its channels are named, `<prefix>:<id>` (`ChannelNames`: the one place a kind's names
  are built and parsed; domains build names with it, the session parses them with it);
- who may subscribe (`authorize`, and/or an `AccessRule` that is re-checked when access may
  have shrunk, channels/authz.py);
- which event types may be coalesced and how two of them merge (`coalesce`);
- which fields a subscription's `events` filter selects, per event type (`filters`).

A channel whose prefix no kind registered answers `unknown_channel`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from channels import internal
from channels.authz import AccessRule, Principal
from channels.coalescer import Merge
from channels.protocol import ErrorCode, ProtocolError

Id = TypeVar("Id")

# An event as published: a JSON object with a `type`.
Payload = dict[str, Any]
# The fields a subscription's `events` filter selected (None: no filter, everything).
Selection = frozenset[str] | None


class ChannelNames(Generic[Id]):
    """The names of one kind's channels, `<prefix>:<id>`: built and parsed here only."""

    __slots__ = ("_format_id", "_parse_id", "prefix")

    def __init__(
        self,
        prefix: str,
        *,
        parse_id: Callable[[str], Id],
        format_id: Callable[[Id], str] = str,
    ) -> None:
        """`parse_id` raises ValueError, whose message is the answer, for an id that is not one."""
        if not prefix or ":" in prefix:
            raise ValueError(f"a channel prefix is a non-empty word without ':': {prefix!r}")
        self.prefix = prefix
        self._parse_id = parse_id
        self._format_id = format_id

    def name(self, ident: Id) -> str:
        return f"{self.prefix}:{self._format_id(ident)}"

    def parse(self, channel: str) -> Id:
        """The id in `channel`; `unknown_channel` if it is not one of this kind's names."""
        prefix, sep, raw = channel.partition(":")
        if not sep or prefix != self.prefix:
            raise ProtocolError(ErrorCode.unknown_channel, f"Not a {self.prefix}:{{id}} channel")
        try:
            return self._parse_id(raw)
        except ValueError as exc:
            raise ProtocolError(ErrorCode.unknown_channel, str(exc)) from exc


def uuid_names(prefix: str) -> ChannelNames[uuid.UUID]:
    """`<prefix>:<uuid>` names, the UUID in its canonical lowercase form (one channel, one name)."""

    def parse_id(raw: str) -> uuid.UUID:
        try:
            ident = uuid.UUID(raw)
        except ValueError as exc:
            raise ValueError(f"{prefix} id is not a valid UUID") from exc
        if str(ident) != raw:
            raise ValueError("Use the canonical lowercase UUID form")
        return ident

    return ChannelNames(prefix, parse_id=parse_id)


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """The fields of one event type that an `events` filter selects: keys of `event[container]`.

    A filtered subscriber gets only its selected fields, and no frame at all when none of them
    changed since the channel's previous event of this type (or the update carries none).
    """

    container: str
    fields: frozenset[str]

    def values(self, event: Mapping[str, Any]) -> dict[str, Any]:
        data = event.get(self.container)
        return data if isinstance(data, dict) else {}

    def changed(self, seen: dict[str, Any], event: Mapping[str, Any]) -> frozenset[str]:
        """The fields whose value differs from `seen` (updated in place to this event's)."""
        values = self.values(event)
        changed = frozenset(k for k, v in values.items() if k not in seen or seen[k] != v)
        seen.update(values)
        return changed

    def select(
        self, event: Payload, selection: frozenset[str], changed: frozenset[str] | None
    ) -> Payload | None:
        """`event` cut down to `selection`; None if it carries none, or none of them changed."""
        selected = {k: v for k, v in self.values(event).items() if k in selection}
        if not selected or (changed is not None and changed.isdisjoint(selected)):
            return None
        return {**event, self.container: selected}


class LatestValues:
    """The latest value of each filterable field fanned out on a channel, per event type: what
    `FieldFilter.changed` compares with. Memory: one small dict per filterable event type."""

    __slots__ = ("_by_type",)

    def __init__(self) -> None:
        self._by_type: dict[str, dict[str, Any]] = {}

    def changed(self, filter_: FieldFilter, event: Payload) -> frozenset[str]:
        return filter_.changed(self._by_type.setdefault(event["type"], {}), event)


def merge_latest(container: str) -> Merge:
    """A merge for updates carrying absolute values in `container`: the latest of each wins."""

    def merge(older: Payload, newer: Payload) -> Payload:
        before, after = older.get(container), newer.get(container)
        return {
            **older,
            **newer,
            container: {
                **(before if isinstance(before, dict) else {}),
                **(after if isinstance(after, dict) else {}),
            },
        }

    return merge


Authorize = Callable[[Id, Principal | None], Awaitable[None]]  # raises ProtocolError


@dataclass(frozen=True, slots=True)
class ChannelKind(Generic[Id]):
    """One kind of channel as a domain declares it (see the module docstring)."""

    names: ChannelNames[Id]
    # Checked at subscribe, before `access` (which is checked at subscribe too).
    authorize: Authorize[Id] | None = None
    access: AccessRule[Id, Any] | None = None
    coalesce: Mapping[str, Merge] = field(default_factory=dict)
    filters: Mapping[str, FieldFilter] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return self.names.prefix

    def filter_for(self, event: Payload) -> FieldFilter | None:
        """The filter of `event`'s type, None if an `events` filter leaves it whole."""
        event_type = event.get("type")
        return self.filters.get(event_type) if isinstance(event_type, str) else None

    @property
    def selectable(self) -> frozenset[str]:
        """Every field an `events` filter may name on this kind's channels."""
        return frozenset().union(*(f.fields for f in self.filters.values()))

    def selection(self, events: list[str] | None) -> Selection:
        """The fields a subscription's `events` selects; None means all of them."""
        if events is None:
            return None
        allowed = self.selectable
        unknown = sorted(set(events) - allowed)
        if unknown or not events or len(events) > len(allowed):
            raise ProtocolError(
                ErrorCode.invalid_message,
                f"events must be a non-empty subset of {sorted(allowed)}",
                unknown=unknown,
            )
        return frozenset(events)

    async def check(self, ident: Id, principal: Principal | None, **extra: Any) -> None:
        """Return if `principal` may subscribe to the channel of `ident`; raise otherwise."""
        if self.authorize is not None:
            await self.authorize(ident, principal)
        if self.access is not None and not self.access.allows(
            await self.access.lookup(ident), principal
        ):
            raise self.access.refusal(**extra)

    def refusal(self, **extra: Any) -> ProtocolError:
        """The answer to a subscribe whose access was revoked while it caught up."""
        if self.access is not None:
            return self.access.refusal(**extra)
        return ProtocolError(ErrorCode.forbidden, "Access to this channel was revoked", **extra)


class ChannelKinds:
    """The kinds registered with a node, by prefix. Register before the node starts."""

    def __init__(self, kinds: Iterable[ChannelKind[Any]] = ()) -> None:
        self._kinds: dict[str, ChannelKind[Any]] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: ChannelKind[Any]) -> None:
        if f"{kind.prefix}:" == internal.PREFIX:
            raise ValueError(f"{internal.PREFIX}* channels are the nodes' own (channels/internal)")
        if kind.prefix in self._kinds:
            raise ValueError(f"channel kind {kind.prefix!r} is registered twice")
        self._kinds[kind.prefix] = kind

    def __iter__(self) -> Iterator[ChannelKind[Any]]:
        return iter(self._kinds.values())

    def of(self, channel: str) -> ChannelKind[Any] | None:
        """The kind `channel` belongs to by its prefix (its id is not checked)."""
        prefix, sep, _ = channel.partition(":")
        return self._kinds.get(prefix) if sep else None

    def resolve(self, channel: str) -> tuple[ChannelKind[Any], Any]:
        """The kind of `channel` and its parsed id; `unknown_channel` otherwise."""
        kind = self.of(channel)
        if kind is None:
            known = " or ".join(f"{prefix}:{{id}}" for prefix in self._kinds) or "none"
            raise ProtocolError(ErrorCode.unknown_channel, f"Channels are {known}")
        return kind, kind.names.parse(channel)
