"""The object store interface: what the media pipeline asks of S3 or any S3-compatible store.

Guarantees an implementation gives:
- `presign_put` returns a URL that accepts exactly one PUT of an object at `key`, with this
  `Content-Type` and this `Content-Length` (both signed: any other value is refused by the
  store), until `expires_in` seconds have passed. Nothing is sent to the store to make one.
- `head` reports what the store holds now (None: no such object); it never trusts metadata
  a client declared elsewhere.
- `delete` and `delete_prefix` are idempotent: deleting what is not there succeeds.
- Multipart: parts are presigned one by one; `complete_multipart` makes the object appear
  at `key` atomically (StoreRefused when the parts do not assemble), `abort_multipart`
  forgets the parts (idempotent).
- A store that cannot be reached, or fails, raises a ConnectionError (`StoreUnavailable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class StoreRefused(Exception):
    """The store refused a request as invalid (a 4xx other than not-found): e.g. parts that
    do not assemble. `code` is the store's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    content_type: str
    etag: str
    cache_control: str = ""


@dataclass(frozen=True, slots=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int = 0


class ObjectStore(Protocol):
    async def presign_put(
        self, key: str, *, content_type: str, content_length: int, expires_in: int
    ) -> str: ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def download(self, key: str, path: Path) -> int: ...

    async def upload_file(
        self, key: str, path: Path, *, content_type: str, cache_control: str
    ) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def list_keys(self, prefix: str) -> list[str]: ...

    async def delete_prefix(self, prefix: str) -> int: ...

    async def create_multipart(self, key: str, *, content_type: str) -> str: ...

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str: ...

    async def complete_multipart(
        self, key: str, *, upload_id: str, parts: list[UploadedPart]
    ) -> None: ...

    async def list_parts(self, key: str, *, upload_id: str) -> list[UploadedPart]: ...

    async def abort_multipart(self, key: str, *, upload_id: str) -> None: ...

    def public_url(self, key: str) -> str: ...
