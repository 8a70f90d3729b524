"""`ObjectStore` on S3 or an S3-compatible server (the embedded rclone one, MinIO, R2...),
through aiobotocore: SigV4 everywhere, path-style addressing when an endpoint URL is given.

Failure policy: calls raise botocore's errors as they come (a store that is down fails the
request or the job that needed it; jobs retry with backoff). `head` answers None only for a
404, never for an error, so "not uploaded" is never confused with "store unreachable".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from objectstore.store import ObjectInfo, StoreRefused, UploadedPart

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class S3Config:
    bucket: str
    region: str
    access_key_id: str | None
    secret_access_key: str | None
    # None: AWS itself. Otherwise an S3-compatible server, addressed path-style.
    endpoint_url: str | None
    # Where keys under `public_prefix` are served to players (a CDN, or the embedded server).
    public_base_url: str
    public_prefix: str = "public/"


class StoreUnavailable(ConnectionError):
    """The store did not answer in time, refused the connection, or answered 5xx. A builtin
    ConnectionError, so the node answers 503 with Retry-After (as for Postgres and Redis) and
    a job retries with backoff."""


@contextlib.contextmanager
def _answering(action: str) -> Iterator[None]:
    try:
        yield
    except (BotoConnectionError, HTTPClientError) as exc:
        raise StoreUnavailable(f"object store unreachable during {action}: {exc}") from exc
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if status >= 500:
            raise StoreUnavailable(f"object store failed {action} ({status})") from exc
        raise


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise StoreRefused(str(error.get("Code", "")), str(error.get("Message", exc))) from exc


def _not_found(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class StoreNotStarted(RuntimeError):
    """The store was used before `start()` or after `close()`."""


class S3Store:
    """An `ObjectStore` bound to one bucket. Built at once, connected by `start()` (in the
    process's event loop), closed by `close()`."""

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self.bucket = config.bucket
        self._exit = contextlib.AsyncExitStack()
        self._started: Any = None

    async def start(self) -> None:
        session = get_session()
        options = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if self.config.endpoint_url else "auto"},
            # One retry, soon: a request waiting on a dead store should hear 503 quickly.
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=2,
            read_timeout=60,
        )
        self._started = await self._exit.enter_async_context(
            session.create_client(
                "s3",
                region_name=self.config.region,
                endpoint_url=self.config.endpoint_url,
                aws_access_key_id=self.config.access_key_id,
                aws_secret_access_key=self.config.secret_access_key,
                config=options,
            )
        )

    async def close(self) -> None:
        self._started = None
        await self._exit.aclose()

    @property
    def _client(self) -> Any:
        if self._started is None:
            raise StoreNotStarted("the object store is not started")
        return self._started

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, config: S3Config) -> AsyncIterator[S3Store]:
        store = cls(config)
        await store.start()
        try:
            yield store
        finally:
            await store.close()

    # --- signing (no request to the store) --------------------------------------------

    async def presign_put(
        self, key: str, *, content_type: str, content_length: int, expires_in: int
    ) -> str:
        # Content-Type and Content-Length become signed headers (X-Amz-SignedHeaders), so
        # the store refuses a PUT of another type or size with this URL.
        url: str = await self._client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": content_length,
            },
            ExpiresIn=expires_in,
        )
        return url

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        url: str = await self._client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
                "ContentLength": size,
            },
            ExpiresIn=expires_in,
        )
        return url

    def public_url(self, key: str) -> str:
        prefix = self.config.public_prefix
        if not key.startswith(prefix):
            raise ValueError(f"{key!r} is not under the public prefix {prefix!r}")
        return f"{self.config.public_base_url.rstrip('/')}/{key.removeprefix(prefix)}"

    # --- objects --------------------------------------------------------------------------

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            with _answering("HEAD"):
                found = await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise
        return ObjectInfo(
            size=int(found["ContentLength"]),
            content_type=str(found.get("ContentType", "")),
            etag=str(found.get("ETag", "")).strip('"'),
            cache_control=str(found.get("CacheControl", "")),
        )

    async def download(self, key: str, path: Path) -> int:
        """Stream the object to `path` (file writes off the event loop); its size."""
        written = 0
        with _answering("GET"), path.open("wb") as out:
            answer = await self._client.get_object(Bucket=self.bucket, Key=key)
            async with answer["Body"] as body:
                while chunk := await body.read(CHUNK_BYTES):
                    await asyncio.to_thread(out.write, chunk)
                    written += len(chunk)
        return written

    async def upload_file(
        self, key: str, path: Path, *, content_type: str, cache_control: str
    ) -> None:
        data = await asyncio.to_thread(path.read_bytes)
        with _answering("PUT"):
            await self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=cache_control,
            )

    async def delete(self, key: str) -> None:
        try:
            with _answering("DELETE"):
                await self._client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if not _not_found(exc):
                raise

    async def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with _answering("LIST"):
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_keys(prefix)
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys at most
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            with _answering("DELETE"):
                await self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
        return len(keys)

    # --- multipart ------------------------------------------------------------------------

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        with _answering("CreateMultipartUpload"):
            answer = await self._client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
        return str(answer["UploadId"])

    async def complete_multipart(
        self, key: str, *, upload_id: str, parts: list[UploadedPart]
    ) -> None:
        with _refusals(), _answering("CompleteMultipartUpload"):
            await self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in parts]
                },
            )

    async def list_parts(self, key: str, *, upload_id: str) -> list[UploadedPart]:
        """The parts the store holds for a multipart upload, by part number."""
        found: list[UploadedPart] = []
        paginator = self._client.get_paginator("list_parts")
        with _refusals(), _answering("ListParts"):
            async for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
                found += [
                    UploadedPart(int(p["PartNumber"]), str(p["ETag"]), int(p["Size"]))
                    for p in page.get("Parts", [])
                ]
        return sorted(found, key=lambda part: part.part_number)

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        try:
            with _answering("AbortMultipartUpload"):
                await self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
        except ClientError as exc:
            if not _not_found(exc):
                raise
