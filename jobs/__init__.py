"""Durable background jobs: kinds, the worker that runs them, periodic scheduling, metrics.

A top-level package because it is neither HTTP (`server/`, `handlers/`), sockets
(`channels/`) nor SQL (`storage/`): it drives `storage.jobs` and runs handlers that the
composition root (`server/worker.py`) registers. It imports no domain and no aiohttp.
"""
