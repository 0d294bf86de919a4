from __future__ import annotations

import pytest

from skyferry.redaction import without_local_paths


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("in file:///srv/app/.skyferry/blobs: not found", "in file://…/blobs: not found"),
        ("open /srv/app/blobs/a/b#1: Not a dir", "open …/b#1: Not a dir"),
        ("No such file: '/etc/skyferry/key.pem'", "No such file: '…/key.pem'"),
        ("…/blobs is not a writable directory", "…/blobs is not a writable directory"),
    ],
)  # fmt: skip
def test_absolute_paths_are_cut_to_their_last_part(text: str, shown: str) -> None:
    assert without_local_paths(text) == shown
    assert without_local_paths(shown) == shown  # cutting twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:9000/bucket/some/key answered 503",
        "s3://bucket/prefix/key: not found",
        "blob key 'datasets/entity/a.parquet' is read/write",
        "memory://: not found",
    ],
)
def test_urls_keys_and_words_with_slashes_stay(text: str) -> None:
    assert without_local_paths(text) == text
