"""The storage interface against the real S3-compatible server: presigned PUTs bound to key,
type and size (SigV4), HEAD, delete, and multipart with presigned parts."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest

from devservices.s3 import S3Endpoint
from objectstore.s3 import S3Config, S3Store
from objectstore.store import UploadedPart
from tests.waiting import wait_for


@pytest.fixture
async def store(s3: S3Endpoint) -> AsyncIterator[S3Store]:
    config = S3Config(
        bucket=s3.bucket,
        region="us-east-1",
        access_key_id=s3.access_key_id,
        secret_access_key=s3.secret_access_key,
        endpoint_url=s3.endpoint_url,
        public_base_url=s3.public_base_url,
    )
    async with S3Store.open(config) as opened:
        yield opened


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _key() -> str:
    return f"uploads/test/{uuid.uuid4()}.mp4"


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _put(http: aiohttp.ClientSession, url: str, body: bytes, content_type: str) -> int:
    async with http.put(url, data=body, headers={"Content-Type": content_type}) as resp:
        await resp.read()
        return resp.status


async def test_presigned_put_binds_type_and_size(
    store: S3Store, http: aiohttp.ClientSession
) -> None:
    key, body = _key(), b"x" * 1000
    url = await store.presign_put(
        key, content_type="video/mp4", content_length=len(body), expires_in=300
    )
    assert "content-length" in parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0]
    assert await store.head(key) is None
    # Another type, another size, a tampered signature: the store refuses each.
    assert await _put(http, url, body, "video/webm") == 403
    assert await _put(http, url, body + b"y", "video/mp4") == 403
    assert await _put(http, url, body[:-1], "video/mp4") == 403
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    tampered = _with_query(
        url, **{"X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]}
    )
    assert await _put(http, tampered, body, "video/mp4") == 403
    other_key = url.replace(key, _key())
    assert await _put(http, other_key, body, "video/mp4") == 403
    assert await store.head(key) is None
    assert await _put(http, url, body, "video/mp4") == 200
    found = await store.head(key)
    assert found is not None and found.size == len(body) and found.content_type == "video/mp4"
    await store.delete(key)
    await store.delete(key)  # idempotent
    assert await store.head(key) is None


async def test_expired_url_is_refused(store: S3Store, http: aiohttp.ClientSession) -> None:
    key = _key()
    url = await store.presign_put(key, content_type="video/mp4", content_length=3, expires_in=1)
    signed_at = datetime.strptime(
        parse_qs(urlsplit(url).query)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ"
    ).replace(tzinfo=UTC)
    expiry = signed_at.timestamp() + 1

    async def past_expiry() -> bool:  # the store's clock is this machine's
        return time.time() > expiry + 1

    await wait_for(past_expiry, within=30, interval=0.2)
    async with http.put(url, data=b"abc", headers={"Content-Type": "video/mp4"}) as resp:
        answer = await resp.text()
        assert resp.status in (400, 403), answer
    assert "AccessDenied" in answer  # expired: refused however the store words it
    assert await store.head(key) is None


async def test_multipart_with_presigned_parts(store: S3Store, http: aiohttp.ClientSession) -> None:
    key, part_size = _key(), 5 * 1024 * 1024
    data = bytes(range(256)) * (part_size * 2 // 256) + b"tail"
    upload_id = await store.create_multipart(key, content_type="video/mp4")
    chunks = [data[:part_size], data[part_size : 2 * part_size], data[2 * part_size :]]
    parts = []
    for number, chunk in reversed(list(enumerate(chunks, start=1))):  # any order
        url = await store.presign_part(
            key, upload_id=upload_id, part_number=number, size=len(chunk), expires_in=300
        )
        async with http.put(url, data=chunk) as resp:
            assert resp.status == 200, await resp.text()
            parts.append(UploadedPart(number, resp.headers["ETag"]))
    assert await store.head(key) is None  # nothing visible before completion
    await store.complete_multipart(
        key, upload_id=upload_id, parts=sorted(parts, key=lambda p: p.part_number)
    )
    found = await store.head(key)
    assert found is not None and found.size == len(data)
    await store.delete(key)


async def test_public_keys_are_served_with_cache_headers(
    store: S3Store, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = tmp_path / "index.m3u8"
    path.write_text("#EXTM3U\n")
    key = f"public/test/{uuid.uuid4()}/index.m3u8"
    await store.upload_file(
        key, path, content_type="application/vnd.apple.mpegurl", cache_control="public, max-age=60"
    )
    with pytest.raises(ValueError):
        store.public_url("uploads/private.mp4")
    url = store.public_url(key)
    got: dict[str, str] = {}

    async def served() -> bool:
        async with http.get(url) as resp:
            if resp.status != 200:
                return False
            got["body"] = await resp.text()
            got["cache"] = resp.headers.get("Cache-Control", "")
            return True

    await wait_for(served, message="the public server never served the object")
    assert got["body"] == "#EXTM3U\n"
    assert "max-age" in got["cache"]
    assert await store.delete_prefix(key.rpartition("/")[0] + "/") == 1
