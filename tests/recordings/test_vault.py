"""The recordings section of the settings and the app's vault built from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lensguard.recordings.s3 import S3Store
from lensguard.recordings.settings import RecordingSettings
from lensguard.recordings.store import LocalStore
from lensguard.recordings.vault import store_from_settings
from lensguard.settings import load_settings


def test_the_default_store_is_local_under_the_var_dir(tmp_path: Path) -> None:
    store = store_from_settings(RecordingSettings(), tmp_path)
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "recordings"


def test_s3_storage_names_its_bucket_and_prefix(tmp_path: Path) -> None:
    settings = RecordingSettings.model_validate(
        {"storage": "s3", "s3": {"bucket": "cams", "prefix": "site-a/", "endpoint": None}}
    )
    store = store_from_settings(settings, tmp_path)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == ("cams", "site-a/")


@pytest.mark.parametrize(
    ("section", "complaint"),
    [
        ({"storage": "s3"}, "set recordings.s3.bucket"),
        ({"segment_seconds": 1}, "greater than or equal to 2"),
        ({"segment_seconds": 11}, "less than or equal to 10"),
        ({"s3": {"prefix": "no-slash"}}, "pattern"),
        ({"storage": "tape"}, "'local' or 's3'"),
        ({"unknown": 1}, "Extra inputs"),
    ],
)
def test_bad_recording_settings_are_refused_with_the_reason(
    section: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        load_settings(recordings=section)
