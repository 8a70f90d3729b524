"""The internal-channel router: notices and gaps to callbacks, the rest to the hub."""

from __future__ import annotations

from typing import Any

import pytest

from channels.internal import InternalChannels
from handlers.videos.events import LISTS_CHANNEL
from tests.ws_support import (  # noqa: F401 - fixtures
    Hub,
    broker_name_fixture,
    hub_fixture,
)


def test_internal_publications_and_gaps_go_to_callbacks_the_rest_to_the_hub() -> None:
    seen: list[Any] = []
    router = InternalChannels(
        deliver=lambda *args: seen.append(("hub", *args)), on_gap=lambda: seen.append("gap")
    )
    router.register(LISTS_CHANNEL, lambda: seen.append("lists"))
    router.deliver(LISTS_CHANNEL, "1-0", b"{}")
    router.deliver("internal:nobody-listens", "1-0", b"{}")
    router.deliver("video:x", "2-0", b"{}")
    router.missed()
    assert seen == ["lists", ("hub", "video:x", "2-0", b"{}"), "lists", "gap"]
    with pytest.raises(ValueError):
        router.register("video-lists", lambda: None)


def test_a_failing_callback_does_not_stop_delivery() -> None:
    seen: list[str] = []
    router = InternalChannels(deliver=lambda *_: seen.append("hub"), on_gap=lambda: None)
    router.register(LISTS_CHANNEL, lambda: 1 / 0 and None)
    router.deliver(LISTS_CHANNEL, "1-0", b"{}")
    router.missed()
    router.deliver("video:x", "2-0", b"{}")
    assert seen == ["hub"]
