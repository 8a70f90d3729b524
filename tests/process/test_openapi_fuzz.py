"""A short, seeded schemathesis run in every `make test` (`make fuzz` is the long one)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fuzz import fuzz, fuzz_node

pytestmark = pytest.mark.timeout(600)


def test_the_openapi_document_says_what_the_server_does(engines: Any) -> None:
    with fuzz_node(engines.database_url, engines.redis_url) as port:
        codes = fuzz(port, max_examples=8, max_time=60, seed=20261203)
    assert codes == [0, 0], "schemathesis found disagreements: see its report above"
