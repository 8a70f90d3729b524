"""Demo data generation: deterministic and consistent before it touches a database."""

from __future__ import annotations

from storage import seed


def test_generation_is_deterministic_and_realistic() -> None:
    first = seed.generate(50, 200, "hash", seed=3)
    second = seed.generate(50, 200, "hash", seed=3)
    assert [v[0] for v in first.videos] == [v[0] for v in second.videos]
    assert len(first.creators) == 5
    visibilities = {v[11] for v in first.videos}
    assert visibilities <= {"public", "unlisted", "private"} and "public" in visibilities
    likes = {(like[0], like[1], like[2]) for like in first.likes}
    assert len(likes) == len(first.likes)  # one reaction per user and target
    follows = {(f[0], f[1]) for f in first.follows}
    assert len(follows) == len(first.follows) and all(a != b for a, b in follows)
