"""Magnet URIs (BEP 9): `magnet:?xt=urn:btih:<info hash>&dn=<name>&tr=<tracker>...`."""

from __future__ import annotations

from urllib.parse import quote


def magnet_uri(info_hash: str, name: str, trackers: list[str]) -> str:
    parts = [f"xt=urn:btih:{info_hash}", f"dn={quote(name, safe='')}"]
    parts += [f"tr={quote(tracker, safe='')}" for tracker in trackers]
    return "magnet:?" + "&".join(parts)
