"""Every test of this tier starts from empty tables and an empty Redis database."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean(clean_state: None) -> None:
    pass
