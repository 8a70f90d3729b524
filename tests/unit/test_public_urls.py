"""core.urls: the addresses a client may store for media and avatars."""

from __future__ import annotations

import re

import pytest

from core.urls import PUBLIC_URL, check_public_url

ACCEPTED = [
    "https://cdn.example.com/v/1.mp4",
    "http://media.example.org:8080/a.m3u8?x=1#t",
    "https://CDN.Example.COM/x.jpg",
    "https://a.b.example/@user/1.jpg",
    "/static/thumbs/1.jpg",
    "/media/videos/abc/master.m3u8",
]
REFUSED = [
    "https://93.184.216.34/clip.mp4",  # IP literals, public or not, in any notation
    "https://[2606:2800:220:1:248:1893:25c8:1946]/x.jpg",
    "http://x.LOCAL/x",
    "http://router.home.arpa/x",
    "http://-bad-.example.com/x",
    "/static/a b.jpg",
    " https://cdn.example.com/x",
    "//evil.example/x",  # scheme-relative: another host in disguise
    "/\\evil.example/x",  # browsers read a backslash as a slash
    "http://127.0.0.1/x",
    "http://localhost:8000/x",
    "http://api.localhost/x",
    "http://[::1]/x",
    "http://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
    "http://10.0.0.5/x",
    "http://192.168.1.1/x",
    "http://172.16.0.1/x",
    "http://0.0.0.0/x",
    "http://2130706433/x",  # 127.0.0.1 as one number
    "http://0x7f.1/x",
    "http://intranet/x",
    "http://printer.local/x",
    "https://user:pass@cdn.example.com/x",
    'https://cdn.example.com/"onload="x',
    "https://cdn.example.com/<script>",
    "ftp://cdn.example.com/x",
    "javascript:alert(1)",
    "https://cdn.example.com:99999/x",
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_public_urls_and_own_paths_are_accepted(url: str) -> None:
    assert check_public_url(url) == url


@pytest.mark.parametrize("url", REFUSED)
def test_other_addresses_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_public_url(url)


def test_the_published_pattern_is_the_rule() -> None:
    """The OpenAPI `pattern` of URL fields is the validator itself, so schema and server agree."""
    from handlers.videos.models import VideoCreate

    schema = VideoCreate.model_json_schema()
    url_schema = next(
        option
        for option in schema["properties"]["video_url"]["anyOf"]
        if option.get("type") == "string"
    )
    assert url_schema["pattern"] == PUBLIC_URL.pattern
    assert re.search(url_schema["pattern"], "https://cdn.example.com/v.mp4")
