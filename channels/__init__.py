"""Realtime: the broker interface and its implementations, the WebSocket hub, presence.

Does not import `storage/`: events arrive as already-built payloads.
"""
