"""The media tier: uploads to a real S3-compatible server, real FFmpeg, a real job worker.

With AWS_ENDPOINT_URL (and its keys) set, tests use that store; otherwise the embedded
`rclone serve s3` is started in a temporary folder for the session. No S3 is mocked.
Every test starts from empty tables and an empty Redis database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devservices.s3 import S3Endpoint, local_s3
from devservices.stack import Engines
from server.config import Settings
from tests.conftest import make_settings

BUCKET = "streamhub-test"


@pytest.fixture(autouse=True)
def _clean(clean_state: None) -> None:
    pass


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    given = os.environ.get("AWS_ENDPOINT_URL")
    if given:
        yield S3Endpoint(
            endpoint_url=given,
            public_base_url=os.environ.get("CDN_BASE_URL", f"{given}/{BUCKET}/public"),
            access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
            secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            bucket=os.environ.get("AWS_S3_BUCKET", BUCKET),
        )
        return
    with local_s3(tmp_path_factory.mktemp("var"), bucket=BUCKET, wanted=True) as found:
        assert found is not None
        yield found


def storage_overrides(s3: S3Endpoint) -> dict[str, object]:
    return {
        "AWS_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
        "AWS_S3_BUCKET": s3.bucket,
        "CDN_BASE_URL": s3.public_base_url,
        "VIDEO_PROCESSING_WEBHOOK_SECRET": "test-webhook-secret-0123456789abcdef",
        "TRANSCODE_THREADS": 1,  # the machine is shared: keep FFmpeg to one core
    }


@pytest.fixture
def settings(engines: Engines, s3: S3Endpoint) -> Settings:
    return make_settings(engines, **storage_overrides(s3))
