"""Pure parts of the media pipeline: webhook signatures, the ladder, the FFmpeg command."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import webhooks
from core.errors import Unauthorized
from handlers.media import transcode
from handlers.media.service import title_from

SECRET = "s3cret-for-tests"
BODY = b'{"video_id": "7d3c6a1e-2b4f-4c55-9a8e-0f1e2d3c4b5a", "status": "error"}'


def test_a_signed_fresh_delivery_verifies_and_names_itself() -> None:
    header = webhooks.sign(SECRET, 1_000, BODY)
    digest = webhooks.verify(SECRET, header, BODY, now=1_010, tolerance=300)
    assert header.endswith(digest) and len(digest) == 64
    assert webhooks.sign(SECRET, 1_001, BODY) != header  # the timestamp is signed


@pytest.mark.parametrize(
    ("header", "body", "now", "reason"),
    [
        (None, BODY, 1_000, "missing_signature"),
        ("v1=abc", BODY, 1_000, "malformed_signature"),
        ("t=soon,v1=abc", BODY, 1_000, "malformed_signature"),
        (webhooks.sign("another secret", 1_000, BODY), BODY, 1_000, "bad_signature"),
        (webhooks.sign(SECRET, 1_000, BODY), BODY + b" ", 1_000, "bad_signature"),
        (
            webhooks.sign(SECRET, 1_000, BODY).replace("t=1000", "t=1200"),
            BODY,
            1_200,
            "bad_signature",
        ),
        (webhooks.sign(SECRET, 1_000, BODY), BODY, 1_301, "stale_timestamp"),
        (webhooks.sign(SECRET, 2_000, BODY), BODY, 1_000, "stale_timestamp"),
    ],
)
def test_refused_deliveries(header: str | None, body: bytes, now: float, reason: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        webhooks.verify(SECRET, header, body, now=now, tolerance=300)
    assert refused.value.details["reason"] == reason


@pytest.mark.parametrize(
    ("height", "names"),
    [
        (2160, ["480p", "720p", "1080p", "1440p", "2160p"]),
        (1080, ["480p", "720p", "1080p"]),
        (1079, ["480p", "720p"]),
        (480, ["480p"]),
        (241, ["240p"]),  # under the ladder: one rendition at the source's (even) height
    ],
)
def test_ladder_never_exceeds_the_source(height: int, names: list[str]) -> None:
    assert [r.name for r in transcode.ladder_for(height)] == names


def test_one_ffmpeg_process_writes_the_whole_ladder() -> None:
    rungs = transcode.ladder_for(720)
    command = transcode.hls_command("ffmpeg", Path("in.mp4"), Path("out"), rungs, has_audio=False)
    assert command.count("-i") == 1 and "split=2" in command[command.index("-filter_complex") + 1]
    assert command[command.index("-var_stream_map") + 1] == "v:0,name:480p v:1,name:720p"
    assert "0:a:0" not in command
    with_audio = transcode.hls_command("ffmpeg", Path("in"), Path("out"), rungs, has_audio=True)
    assert with_audio[with_audio.index("-var_stream_map") + 1] == (
        "v:0,a:0,name:480p v:1,a:1,name:720p"
    )


def test_titles_come_from_file_names() -> None:
    assert title_from("My Holiday.final.mp4") == "My Holiday.final"
    assert title_from("C:\\clips\\take 2.mov") == "take 2"
    assert title_from("clips/") == "clips"
    assert title_from("/") == "Untitled"
    assert len(title_from("x" * 300 + ".mp4")) == 100
