"""Fixtures for recordings: a real S3 server (moto, its own process) and both stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lensguard.recordings.s3 import S3Store
from lensguard.recordings.store import LocalStore, SegmentStore
from tests.harness import s3


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on a loopback port, for the session."""
    with s3.moto() as server:
        yield server.url


def make_s3_store(endpoint: str) -> S3Store:
    """An ``S3Store`` on a new, empty bucket of the moto server."""
    bucket = f"lg-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=s3.ACCESS_KEY,
        aws_secret_access_key=s3.SECRET_KEY,
    )
    client.create_bucket(Bucket=bucket)
    return S3Store(bucket=bucket, client=client)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.process)])
def segment_store(request: pytest.FixtureRequest, tmp_path: Path) -> SegmentStore:
    """Each store test runs once on the local filesystem and once on S3 (moto)."""
    if request.param == "local":
        return LocalStore(tmp_path / "var" / "recordings")
    return make_s3_store(request.getfixturevalue("s3_endpoint"))
