"""Short real clips made with the FFmpeg of the imageio-ffmpeg wheel (`testsrc2` + a tone),
kept tiny: the machine is shared."""

from __future__ import annotations

import subprocess
from pathlib import Path

from handlers.media.transcode import ffmpeg_binary


def make_clip(
    path: Path, *, width: int, height: int, seconds: float, fps: int = 10, audio: bool = True
) -> Path:
    command = [ffmpeg_binary(None), "-hide_banner", "-loglevel", "error", "-y"]
    command += [
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
    ]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "40", "-pix_fmt", "yuv420p"]
    command += ["-movflags", "+faststart", "-shortest", str(path)]
    subprocess.run(command, check=True, timeout=120)
    return path


def make_image(path: Path) -> bytes:
    """A 320x180 PNG of one `testsrc2` frame."""
    subprocess.run(
        [ffmpeg_binary(None), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=320x180:rate=1", "-frames:v", "1", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()
