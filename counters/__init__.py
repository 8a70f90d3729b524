"""Counters buffered in Redis and flushed to Postgres (neither storage nor sockets)."""
