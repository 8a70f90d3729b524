"""Argon2id off the event loop: hashing costs tens of milliseconds of CPU, which on the loop
would stall every socket of the node, so it runs in the default thread pool."""

from __future__ import annotations

import asyncio

from core import passwords


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, passwords.hash_password, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        None, passwords.verify_password, password_hash, password
    )
