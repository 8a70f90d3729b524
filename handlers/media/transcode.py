"""Probing a source with PyAV and transcoding it with one FFmpeg process into HLS.

Nothing here touches the database or the store: the job (handlers/media/jobs.py) downloads
the source, calls these, and uploads what they wrote. FFmpeg runs as a child process, so the
worker's event loop only reads its progress lines; the probe (PyAV, CPU) runs in a thread.

Output: HLS only (a master playlist and one rendition per rung, H.264 + AAC, 4-second
segments cut on keyframes forced every 2 s so every rendition switches at the same times).
Progressive MP4s are not written, for short clips either: HLS plays everywhere (natively on
Apple devices, with hls.js elsewhere); whether MP4s would be cheaper for short clips was not
measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import av

SEGMENT_SECONDS = 4
KEYFRAME_SECONDS = 2
MASTER = "master.m3u8"
THUMBNAIL = "thumbnail.jpg"


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str  # "720p"
    height: int
    video_kbps: int
    audio_kbps: int


# CLUTCH's quality ladder, with bitrates near the common H.264 recommendations.
LADDER = (
    Rendition("480p", 480, 1200, 96),
    Rendition("720p", 720, 2800, 128),
    Rendition("1080p", 1080, 5000, 128),
    Rendition("1440p", 1440, 9000, 192),
    Rendition("2160p", 2160, 16000, 192),
)


class NotAVideo(Exception):
    """The source cannot be used: not a media file, no video stream, or no frames (for a
    thumbnail: not an image of the type declared)."""


@dataclass(frozen=True, slots=True)
class Probe:
    duration: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None


def ffmpeg_binary(configured: str | None) -> str:
    """FFMPEG_PATH when set, else the binary the imageio-ffmpeg wheel ships."""
    if configured:
        return configured
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _probe(path: Path) -> Probe:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NotAVideo("the file has no video stream")
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            duration = 0.0
            if container.duration:
                duration = container.duration / av.time_base
            elif video.duration and video.time_base:
                duration = float(video.duration * video.time_base)
            # One decoded frame proves the stream is a video, not just a header claiming so.
            frame = next(container.decode(video=0), None)
            if frame is None:
                raise NotAVideo("the video stream has no frames")
            width = video.codec_context.width or frame.width
            height = video.codec_context.height or frame.height
            return Probe(
                duration=duration,
                width=width,
                height=height,
                video_codec=video.codec_context.name,
                audio_codec=audio.codec_context.name if audio is not None else None,
            )
    except NotAVideo:
        raise
    except (av.error.FFmpegError, StopIteration, ValueError) as exc:
        raise NotAVideo(f"not a readable video file ({type(exc).__name__})") from exc


async def probe(path: Path) -> Probe:
    """Duration, resolution and codecs of `path`; NotAVideo when it is not a video."""
    found = await asyncio.to_thread(_probe, path)
    if found.height <= 0 or found.width <= 0:
        raise NotAVideo("the video stream has no resolution")
    return found


IMAGE_CODECS = {"image/jpeg": "mjpeg", "image/png": "png", "image/webp": "webp"}
MAX_IMAGE_SIDE = 8192


def _check_image(path: Path, content_type: str) -> None:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NotAVideo("not an image")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec != IMAGE_CODECS.get(content_type):
                raise NotAVideo(f"the file is {codec}, not {content_type}")
            frame = next(container.decode(video=0), None)
    except NotAVideo:
        raise
    except (av.error.FFmpegError, ValueError) as exc:
        raise NotAVideo(f"not a readable image ({type(exc).__name__})") from exc
    if frame is None or not (
        0 < frame.width <= MAX_IMAGE_SIDE and 0 < frame.height <= MAX_IMAGE_SIDE
    ):
        raise NotAVideo("the image is empty or larger than 8192 pixels a side")


async def check_image(path: Path, content_type: str) -> None:
    """Decode the image (PyAV, in a thread): NotAVideo unless it is a `content_type` image."""
    await asyncio.to_thread(_check_image, path, content_type)


def ladder_for(height: int) -> list[Rendition]:
    """The rungs at or below the source's height; a source under 480 lines gets one
    rendition at its own height (never upscaled)."""
    rungs = [rung for rung in LADDER if rung.height <= height]
    if rungs:
        return rungs
    even = max(2, height - height % 2)
    return [Rendition(f"{even}p", even, 800, 96)]


def hls_command(
    ffmpeg: str,
    source: Path,
    out: Path,
    rungs: list[Rendition],
    *,
    has_audio: bool,
    threads: int = 0,
) -> list[str]:
    """One FFmpeg process for the whole ladder: decode once, scale per rung, encode each."""
    n = len(rungs)
    split = f"[0:v]split={n}" + "".join(f"[s{i}]" for i in range(n))
    scales = [f"[s{i}]scale=-2:{rung.height}[o{i}]" for i, rung in enumerate(rungs)]
    command = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    command += ["-i", str(source), "-filter_complex", ";".join([split, *scales])]
    for i, rung in enumerate(rungs):
        command += ["-map", f"[o{i}]"]
        if has_audio:
            command += ["-map", "0:a:0"]
        kbps = rung.video_kbps
        command += [
            f"-c:v:{i}", "libx264", f"-b:v:{i}", f"{kbps}k",
            f"-maxrate:v:{i}", f"{kbps * 3 // 2}k", f"-bufsize:v:{i}", f"{kbps * 2}k",
        ]  # fmt: skip
        if has_audio:
            command += [f"-c:a:{i}", "aac", f"-b:a:{i}", f"{rung.audio_kbps}k", f"-ac:a:{i}", "2"]
    command += [
        "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
        "-force_key_frames", f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})", "-sc_threshold", "0",
    ]  # fmt: skip
    if threads:
        command += ["-threads", str(threads)]
    streams = " ".join(
        f"v:{i},a:{i},name:{r.name}" if has_audio else f"v:{i},name:{r.name}"
        for i, r in enumerate(rungs)
    )
    command += [
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(out / "%v" / "segment_%05d.ts"),
        "-master_pl_name", MASTER, "-var_stream_map", streams,
        "-progress", "pipe:1", "-nostats",
        str(out / "%v" / "index.m3u8"),
    ]  # fmt: skip
    return command


def thumbnail_command(ffmpeg: str, source: Path, out: Path, probe: Probe) -> list[str]:
    at = min(1.0, probe.duration / 2)
    height = min(720, probe.height - probe.height % 2)
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-ss", f"{at:.3f}", "-i", str(source),
        "-frames:v", "1", "-vf", f"scale=-2:{height}", "-q:v", "3", str(out / THUMBNAIL),
    ]  # fmt: skip


Progress = Callable[[float], Awaitable[None]]


class FFmpegFailed(Exception):
    pass


async def run_ffmpeg(command: list[str], *, duration: float, on_progress: Progress) -> None:
    """Run FFmpeg, report the share of `duration` it has written (0-100), and raise
    FFmpegFailed with its last error lines if it fails. Cancelling kills the process."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        errors = asyncio.create_task(process.stderr.read())
        async for line in process.stdout:
            name, _, value = line.decode(errors="replace").strip().partition("=")
            # `out_time_us` (and the misnamed `out_time_ms`) are microseconds written so far.
            if name == "out_time_us" and duration > 0 and value.isdigit():
                await on_progress(min(100.0, int(value) / 1e6 / duration * 100))
        code = await process.wait()
        stderr = await errors
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if code != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise FFmpegFailed(f"ffmpeg exited with {code}: {' | '.join(tail)}"[:1000])


def clear(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
