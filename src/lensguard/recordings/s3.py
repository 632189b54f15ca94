"""``S3Store``: segments as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...).

An object appears whole or not at all once ``PutObject`` returns, so no partial
segment is ever visible under its id. Segments are already encrypted (``crypto.py``);
the bucket never sees a key. boto3 is blocking, so every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lensguard.recordings.store import SegmentNotFound, check_range, check_segment_id

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING


class S3Store:
    """Segments under ``prefix`` in one bucket of an S3-compatible service."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "recordings/",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: Any = None,
    ) -> None:
        if prefix and not prefix.endswith("/"):
            raise ValueError("an S3 prefix ends with '/'")
        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _key(self, segment_id: str) -> str:
        return self.prefix + check_segment_id(segment_id)

    async def put(self, segment_id: str, data: bytes) -> None:
        """Store ``data`` under ``segment_id``."""
        key = self._key(segment_id)
        await asyncio.to_thread(self._client.put_object, Bucket=self.bucket, Key=key, Body=data)

    def _read(self, segment_id: str, byte_range: str | None) -> bytes:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(segment_id)}
        if byte_range is not None:
            args["Range"] = byte_range
        try:
            response = self._client.get_object(**args)
        except ClientError as exc:
            if _missing(exc):
                raise SegmentNotFound("no such segment") from None
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""
            raise
        body: bytes = response["Body"].read()
        return body

    async def get(self, segment_id: str) -> bytes:
        """The whole segment."""
        return await asyncio.to_thread(self._read, segment_id, None)

    async def get_range(self, segment_id: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``start``."""
        check_range(start, length)
        if length == 0:
            await self.size(segment_id)  # still SegmentNotFound for a missing id
            return b""
        return await asyncio.to_thread(
            self._read, segment_id, f"bytes={start}-{start + length - 1}"
        )

    def _size(self, segment_id: str) -> int:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(segment_id))
        except ClientError as exc:
            if _missing(exc):
                raise SegmentNotFound("no such segment") from None
            raise
        return int(head["ContentLength"])

    async def size(self, segment_id: str) -> int:
        """The stored length in bytes."""
        return await asyncio.to_thread(self._size, segment_id)

    def _delete(self, segment_id: str) -> bool:
        try:
            self._size(segment_id)
        except SegmentNotFound:
            return False
        self._client.delete_object(Bucket=self.bucket, Key=self._key(segment_id))
        return True

    async def delete(self, segment_id: str) -> bool:
        """Remove a segment; False when there was none."""
        return await asyncio.to_thread(self._delete, segment_id)

    def _list(self) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        ids = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(self.prefix) :]
                if "/" not in name:
                    ids.append(name)
        return sorted(ids)

    async def list(self) -> list[str]:
        """Every stored segment id, sorted."""
        return await asyncio.to_thread(self._list)
