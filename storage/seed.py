"""Demo data: `python run.py seed --users N --videos M [--reset]`.

Generates a realistic, deterministic (per `seed`) data set in Python and loads it with COPY:
users (about one in ten a creator), videos with tags, categories and visibilities, follows
skewed towards popular creators, comments with replies, likes and dislikes. Counters are then
set from the rows in one pass (`integrity.recount`), so they are exact. Every seeded account
shares one password, hashed once: Argon2 per user would take minutes.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from core import passwords
from storage import db, integrity

SEED_PASSWORD = "Passw0rd!"
DEFAULT_AVATAR_URL = "/static/avatars/default.svg"

ADJECTIVES = (
    "quick lazy happy brave calm eager fancy jolly kind lucky mighty noble proud silly witty zany"
).split()
NOUNS = "otter falcon panda tiger koala lynx moose raven shark whale bison gecko heron yak".split()
CATEGORIES = [
    "gaming", "music", "education", "sports", "comedy", "technology", "travel", "cooking",
    "science", "news", "film", "fitness",
]  # fmt: skip
TAGS = [
    "tutorial", "live", "review", "funny", "howto", "vlog", "beginner", "advanced", "python",
    "speedrun", "highlights", "interview", "music", "guitar", "recipe", "vegan", "travel",
    "asia", "europe", "football", "basketball", "space", "physics", "ai", "retro", "indie",
    "podcast", "shorts", "4k", "asmr", "workout", "yoga", "news", "analysis", "documentary",
    "animation", "diy", "unboxing", "challenge", "behindthescenes",
]  # fmt: skip
TITLE_WORDS = (
    "ultimate guide to building the best setup ever in minutes why nobody talks about this "
    "secret trick I tried for thirty days what happened next epic fails and wins explained "
    "simply live reaction first look deep dive"
).split()
COMMENTS = [
    "Great video!", "This helped me a lot, thanks.", "First!", "Can you do a follow-up?",
    "I disagree with the part at 3:12.", "Subscribed.", "The editing is amazing.",
    "Where can I find the links?", "Underrated channel.", "Watching this in 2025.",
]  # fmt: skip


@dataclass
class Dataset:
    users: list[tuple[Any, ...]] = field(default_factory=list)
    creators: list[uuid.UUID] = field(default_factory=list)
    videos: list[tuple[Any, ...]] = field(default_factory=list)
    follows: list[tuple[Any, ...]] = field(default_factory=list)
    comments: list[tuple[Any, ...]] = field(default_factory=list)
    likes: list[tuple[Any, ...]] = field(default_factory=list)


USER_COLUMNS = ["id", "username", "email", "password_hash", "display_name", "avatar_url", "bio",
                "verified", "role", "created_at"]  # fmt: skip
VIDEO_COLUMNS = ["id", "author_id", "title", "description", "thumbnail_url", "video_url",
                 "duration", "view_count", "watch_time_seconds", "tags", "category",
                 "visibility", "processing_status", "quality_variants", "published_at",
                 "created_at", "updated_at"]  # fmt: skip
COMMENT_COLUMNS = ["id", "video_id", "user_id", "parent_comment_id", "content", "created_at",
                   "updated_at"]  # fmt: skip
LIKE_COLUMNS = ["user_id", "target_id", "target_type", "action", "created_at"]


def generate_users(
    rng: random.Random, data: Dataset, n: int, password_hash: str, now: datetime
) -> None:
    suffix = secrets.token_hex(2)
    for i in range(n):
        name = f"{rng.choice(ADJECTIVES)}_{rng.choice(NOUNS)}{i}_{suffix}"
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        creator = i % 10 == 0
        data.users.append((
            user_id, name, f"{name}@seed.example", password_hash,
            name.replace("_", " ").title()[:50], DEFAULT_AVATAR_URL,
            f"Hi, I'm {name.split('_')[0]}." if rng.random() < 0.6 else "",
            creator and rng.random() < 0.3, "creator" if creator else "user",
            now - timedelta(days=rng.uniform(90, 720)),
        ))  # fmt: skip
        if creator:
            data.creators.append(user_id)


def generate_videos(rng: random.Random, data: Dataset, m: int, now: datetime) -> None:
    # A few creators publish most videos (Zipf-like weights), as on real platforms.
    weights = [1 / (rank + 1) for rank in range(len(data.creators))]
    authors = rng.choices(data.creators, weights=weights, k=m)
    for author in authors:
        video_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        published = now - timedelta(hours=rng.expovariate(1 / (24 * 20)))
        duration = int(rng.uniform(30, 3600))
        views = int(rng.lognormvariate(5, 2))
        visibility = rng.choices(["public", "unlisted", "private"], weights=[90, 7, 3])[0]
        title = " ".join(rng.sample(TITLE_WORDS, rng.randint(3, 8))).capitalize()[:100]
        url = f"https://cdn.example.com/videos/{video_id}"
        data.videos.append((
            video_id, author, title, f"{title}. " + " ".join(rng.sample(TITLE_WORDS, 12)),
            f"{url}/thumb.jpg", f"{url}/master.m3u8", duration, views,
            views * duration * rng.uniform(0.1, 0.6), rng.sample(TAGS, rng.randint(1, 5)),
            rng.choice(CATEGORIES), visibility, "ready",
            {q: f"{url}/{q}.mp4" for q in ("1080p", "720p", "480p")}, published, published,
            published,
        ))  # fmt: skip


def generate_social(rng: random.Random, data: Dataset, now: datetime) -> None:
    user_ids = [u[0] for u in data.users]
    weights = [1 / (rank + 1) for rank in range(len(data.creators))]
    for user_id in user_ids:
        for creator in set(rng.choices(data.creators, weights=weights, k=rng.randint(0, 15))):
            if creator != user_id:
                data.follows.append((user_id, creator, now - timedelta(days=rng.uniform(0, 60))))
    for video in data.videos:
        video_id, published = video[0], video[14]
        thread: list[uuid.UUID] = []
        for _ in range(min(int(rng.expovariate(1 / 3)), 40)):
            comment_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            parent = rng.choice(thread) if thread and rng.random() < 0.25 else None
            at = published + (now - published) * rng.random()
            data.comments.append(
                (comment_id, video_id, rng.choice(user_ids), parent, rng.choice(COMMENTS), at, at)
            )
            thread.append(comment_id)
            for liker in set(rng.sample(user_ids, min(len(user_ids), int(rng.expovariate(1))))):
                data.likes.append((liker, comment_id, "comment", "like", at))
        reactions = min(len(user_ids), int(rng.expovariate(1 / 6)))
        for liker in rng.sample(user_ids, reactions):
            action = "like" if rng.random() < 0.9 else "dislike"
            data.likes.append((liker, video_id, "video", action, published))


def generate(users: int, videos: int, password_hash: str, *, seed: int = 0) -> Dataset:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    data = Dataset()
    generate_users(rng, data, max(users, 1), password_hash, now)
    generate_videos(rng, data, videos, now)
    generate_social(rng, data, now)
    return data


# The trending score of a seeded video, as if its engagement had happened at publication plus
# a quarter of its age (see trending_bump in migration 0002).
_TRENDING = """
    UPDATE videos SET trending_score = trending_bump(
        trending_bump(NULL, 1, published_at),
        view_count + 3 * like_count + 5 * comment_count,
        published_at + (now() - published_at) / 4)
    WHERE id = ANY($1)"""


async def load(conn: asyncpg.Connection, data: Dataset, progress: Callable[[str], None]) -> None:
    """COPY the data set in, set counters from rows, and score trending; one transaction."""
    async with conn.transaction():
        for table, columns, rows in (
            ("users", USER_COLUMNS, data.users),
            ("videos", VIDEO_COLUMNS, data.videos),
            ("follows", ["follower_id", "following_id", "created_at"], data.follows),
            ("comments", COMMENT_COLUMNS, data.comments),
            ("likes", LIKE_COLUMNS, data.likes),
        ):
            await conn.copy_records_to_table(table, records=rows, columns=columns)
            progress(f"  {table}: {len(rows)} rows")
        progress("  recounting counters from rows")
        await integrity.recount(conn)
        await conn.execute(_TRENDING, [v[0] for v in data.videos])


async def run(
    database_url: str,
    *,
    users: int,
    videos: int,
    reset: bool,
    password_hash: str,
    progress: Callable[[str], None] = print,
    seed: int = 0,
) -> Dataset:
    """Generate and load a data set into the database at `database_url`."""
    progress(f"generating {users} users and {videos} videos")
    data = generate(users, videos, password_hash, seed=seed)
    conn = await asyncpg.connect(database_url)
    try:
        # COPY sends jsonb in binary: a version byte (1), then the JSON text.
        await conn.set_type_codec(
            "jsonb",
            schema="pg_catalog",
            format="binary",
            encoder=lambda value: b"\x01" + orjson.dumps(value),
            decoder=lambda raw: orjson.loads(raw[1:]),
        )
        if reset:
            progress("emptying every table (--reset)")
            await db.truncate_all(conn)
        progress("loading")
        await load(conn, data, progress)
        # Fresh tables have no planner statistics and no visibility map until autovacuum's
        # first pass, up to a minute later. Measured right after a seed of 5,000 videos, the
        # list's count(*) was then an index scan with 10,000 heap fetches (5.4 ms), not an
        # index-only scan (0.6 ms), and search plans were chosen for 1-row estimates.
        progress("  vacuum analyze")
        await conn.execute("VACUUM ANALYZE users, videos, follows, comments, likes")
    finally:
        await conn.close()
    return data


async def command(database_url: str, *, users: int, videos: int, reset: bool) -> Dataset:
    """`run.py seed`: hash the shared password once, load, and say how to log in."""
    started = time.perf_counter()
    password_hash = await asyncio.get_running_loop().run_in_executor(
        None, passwords.hash_password, SEED_PASSWORD
    )
    data = await run(
        database_url, users=users, videos=videos, reset=reset, password_hash=password_hash
    )
    creator = next(u for u in data.users if u[0] == data.creators[0])
    print(
        f"seeded {len(data.users)} users ({len(data.creators)} creators), {len(data.videos)}"
        f" videos, {len(data.follows)} follows, {len(data.comments)} comments and"
        f" {len(data.likes)} likes in {time.perf_counter() - started:.1f}s\n"
        f"every seeded account's password is {SEED_PASSWORD!r};"
        f" e.g. log in as {creator[1]!r} (a creator)"
    )
    return data
