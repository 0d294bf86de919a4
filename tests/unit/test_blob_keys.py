"""Blob key rules and the errors that report a broken one."""

from __future__ import annotations

import pickle

import pytest

from skyferry.storage.blobs import validate_key
from skyferry.storage.blobs.keys import validate_prefix
from skyferry.storage.errors import InvalidBlobKeyError, StorageError


@pytest.mark.parametrize(
    "key",
    ["a", "a/b/c.txt", "..a/b..", ".hidden/x", "sp ace/ü-ß.txt", "a#b", "a#1/b", "x" * 1024],
)
def test_ordinary_keys_pass_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "is empty"),
        ("..", "'..' segment"),
        ("a/../b", "'..' segment"),
        ("a/./b", "'.' segment"),
        ("/a", "starts with '/'"),
        ("a\\b", "backslash"),
        ("a\x00b", "control character U+0000"),
        ("a\tb", "control character U+0009"),
        ("a\x7fb", "control character U+007F"),
        ("a\x85b", "control character U+0085"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("x" * 1025, "1025 bytes"),
        ("é" * 513, "1026 bytes"),
        ("a\ud800", "lone surrogate"),
        ("dir/name#12", "reserves"),
    ],
)
def test_broken_keys_are_refused_with_the_rule(key: str, reason: str) -> None:
    with pytest.raises(InvalidBlobKeyError) as caught:
        validate_key(key)

    assert reason in caught.value.reason
    assert caught.value.key == key
    assert isinstance(caught.value, StorageError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("prefix", ["", "a", "a/", "a/b", "a/.", "..", "a/#1", "reports/202"])
def test_prefixes_may_stop_inside_a_segment(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["/", "../", "a/../", "a//", "./", "a\\", "a\x00"])
def test_prefixes_no_key_can_start_with_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidBlobKeyError):
        validate_prefix(prefix)


def test_message_escapes_and_shortens_the_key() -> None:
    with pytest.raises(InvalidBlobKeyError) as caught:
        validate_key("a\nb/" + "x" * 500)

    message = str(caught.value)
    assert message.startswith("invalid blob key 'a\\nb/xxx")
    assert "control character U+000A" in message
    assert len(message) < 200


def test_errors_survive_pickling_with_their_fields() -> None:
    # DBOS pickles the exception of a failed step
    for error in (
        InvalidBlobKeyError("../x", "has a '..' segment"),
        StorageError("unreachable: timed out", key="k", url="s3://bucket"),
        StorageError("database unreachable"),
    ):
        restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own exception

        assert type(restored) is type(error)
        assert (restored.reason, restored.key, restored.url) == (error.reason, error.key, error.url)
        assert str(restored) == str(error)
