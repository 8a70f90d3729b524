"""Real PostgreSQL and Redis servers from pip packages, for laptops, tests and CI.

Used only when DATABASE_URL / REDIS_URL are unset: a node in production is given URLs and
starts nothing. Kept apart from `server/` because it manages processes, not HTTP.
"""
