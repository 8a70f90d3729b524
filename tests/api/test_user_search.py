"""Admins' account search (storage.accounts.users.search): text, role, pages, LIKE escaping."""

from __future__ import annotations

from typing import Any

from server.app import DB
from storage.accounts import users
from tests.content import make_users


async def test_search_by_text_role_and_page(client: Any) -> None:
    made = await make_users(client, 3, prefix="findme")
    await make_users(client, 2, role="creator", prefix="maker")
    pool = client.app[DB]
    found, total = await users.search(pool, q="FINDME", page=1, limit=2)
    assert total == 3 and len(found) == 2
    rest, _ = await users.search(pool, q="findme", page=2, limit=2)
    assert {u.id for u in found + rest} == {u.id for u, _ in made}
    creators, total = await users.search(pool, role="creator")
    assert total == 2 and all(u.role == "creator" for u in creators)
    # LIKE wildcards in the query are literal characters, not patterns.
    assert (await users.search(pool, q="%"))[1] == 0
    assert (await users.search(pool, q="findme%0"))[1] == 0
