"""Everything that speaks SQL: the pool, migrations and one repository module per resource.

Imports neither aiohttp nor redis. Functions take a pool or connection and return plain
dataclasses; an asyncpg.Record never leaves this package.
"""
