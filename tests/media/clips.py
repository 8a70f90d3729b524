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
