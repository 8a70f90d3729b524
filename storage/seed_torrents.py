"""Demo and benchmark torrents: `run.py seed --torrents N` (N up to millions).

Generated inside Postgres (generate_series, deterministic hashes of the row number), in
batches of 100,000, so a million torrents and their files load in minutes without a
round trip per row. Names draw words from VOCABULARY with a skew (the first words are common,
the last rare), like real titles; each torrent has one to four files.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import asyncpg

BATCH = 100_000
_SYLLABLES = ["ka", "lo", "mi", "ren", "tor", "vin", "sa", "bel", "dor", "fen", "gra", "hul",
              "jas", "kel", "mor", "nix", "pra", "quo", "ral", "sut"]  # fmt: skip
# 400 words: the first ones turn up in many names, the last ones in few.
VOCABULARY = ["".join(p) for p in itertools.product(_SYLLABLES, repeat=2)]
CATEGORIES = ["movies", "tv", "music", "games", "software", "books", "anime", "other"]

# $1 vocabulary, $2 categories, $3 first row number, $4 last row number.
_INSERT = """
WITH rows AS (
    SELECT g,
        -- Uniform numbers in [0, 1) from the row number: deterministic, seed-free.
        ((hashint4(g * 7 + 1) & 2147483647)::float8 / 2147483648) AS u1,
        ((hashint4(g * 7 + 2) & 2147483647)::float8 / 2147483648) AS u2,
        ((hashint4(g * 7 + 3) & 2147483647)::float8 / 2147483648) AS u3,
        ((hashint4(g * 7 + 4) & 2147483647)::float8 / 2147483648) AS u4,
        ((hashint4(g * 7 + 5) & 2147483647)::float8 / 2147483648) AS u5
    FROM generate_series($3::int, $4::int) AS g)
INSERT INTO torrents (info_hash, name, size, category, file_count, seeders, leechers, seen_at,
                      source, trackers, published_at, file_words)
SELECT left(encode(sha256(('seed-torrent-' || g)::bytea), 'hex'), 40),
       name, size, ($2::text[])[1 + (g % cardinality($2::text[]))], files,
       floor(5000 * u4 ^ 4)::int, floor(500 * u5 ^ 4)::int,
       now() - make_interval(secs => u5 * 86400 * 30), 'seed',
       ARRAY['udp://tracker.example.org:1337/announce'],
       now() - make_interval(secs => u4 * 86400 * 365 * 5),
       torrent_words(name || ' ' || name || ' sample')
FROM (
    SELECT g, u4, u5,
        initcap(($1::text[])[1 + floor(cardinality($1::text[]) * u1 ^ 3)::int]) || '.'
        || initcap(($1::text[])[1 + floor(cardinality($1::text[]) * u2 ^ 3)::int]) || '.'
        || initcap(($1::text[])[1 + floor(cardinality($1::text[]) * u3 ^ 2)::int]) || '.'
        || (1970 + g % 55) || '.' || (ARRAY['720p', '1080p', '2160p', 'WEB', 'FLAC'])[1 + g % 5]
        AS name,
        1 + (g % 4) AS files,
        (1 + (g % 4)) * (10000000 + (hashint4(g) & 1073741823))::bigint AS size
    FROM rows) AS t
ON CONFLICT (info_hash) DO NOTHING
"""

# Each file is an equal share of its torrent's size: `size` is files * share (see above).
_FILES = """
INSERT INTO files (torrent_id, idx, path, size)
SELECT t.id, i, t.name || '/' || t.name || '.part' || (i + 1) || '.mkv', t.size / t.file_count
FROM torrents t, generate_series(0, t.file_count - 1) AS i
WHERE t.source = 'seed' AND t.created_at >= $1
ON CONFLICT DO NOTHING
"""


async def seed(database_url: str, count: int, *, progress: Callable[[str], None] = print) -> None:
    started = time.perf_counter()
    conn = await asyncpg.connect(database_url)
    try:
        first = int(await conn.fetchval("SELECT count(*) FROM torrents WHERE source = 'seed'"))
        for low in range(first + 1, first + count + 1, BATCH):
            high = min(low + BATCH - 1, first + count)
            async with conn.transaction():
                since = await conn.fetchval("SELECT now()")
                await conn.execute(_INSERT, VOCABULARY, CATEGORIES, low, high)
                await conn.execute(_FILES, since)
            progress(f"  torrents {high - first}/{count}")
        progress("  vacuum analyze")
        await conn.execute("VACUUM ANALYZE torrents, files")
    finally:
        await conn.close()
    progress(f"seeded {count} torrents in {time.perf_counter() - started:.1f}s")
