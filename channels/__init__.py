"""Realtime: the broker interface and its implementations, the WebSocket hub, presence.

Knows no domain: domains register the kinds of channel they publish on (channels/kinds.py)
and declare their events' models (channels/protocol.py's `Event`). Does not import
`storage/`: events arrive as already-built payloads.
"""
