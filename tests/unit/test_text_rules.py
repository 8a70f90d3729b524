"""The published "not blank" pattern and the server's trimming agree on every space-like character
(a fuzzer found "\\x1e" valid by the pattern's ECMA rules and blank by Python's strip())."""

from __future__ import annotations

import re

import pytest

from server.http.models import NOT_BLANK_PATTERN, trim_not_blank

SPACE_LIKE = [chr(c) for c in range(1, 0x21)] + [
    "\x85", "\xa0", "\u1680", *(chr(c) for c in range(0x2000, 0x200C)), "\u2028", "\u2029",
    "\u202f", "\u205f", "\u3000", "\ufeff", "x", "é",
]  # fmt: skip


@pytest.mark.parametrize("char", SPACE_LIKE, ids=[f"U+{ord(c):04X}" for c in SPACE_LIKE])
def test_pattern_and_trimming_agree(char: str) -> None:
    valid_by_schema = re.search(NOT_BLANK_PATTERN, char) is not None
    try:
        trim_not_blank(char)
        accepted = True
    except ValueError:
        accepted = False
    assert valid_by_schema == accepted
