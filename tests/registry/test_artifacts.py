from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import IntegrityError, NotFoundError
from shipyard.registry.artifacts import (
    FsspecArtifactStore,
    LocalArtifactStore,
    digest_of,
    open_artifact_store,
)


def test_local_store_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    digest = store.put(b"hello")
    assert digest == digest_of(b"hello")
    assert store.put(b"hello") == digest
    assert store.get(digest) == b"hello"
    assert store.path(digest).relative_to(tmp_path).parts[:2] == ("sha256", digest[:2])
    assert not list(store.path(digest).parent.glob("*.tmp"))


def test_local_store_detects_changed_and_missing_bytes(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    digest = store.put(b"model bytes")
    store.path(digest).write_bytes(b"model bytez")
    with pytest.raises(IntegrityError):
        store.get(digest)
    # put repairs a corrupt copy with the right bytes
    store.put(b"model bytes")
    assert store.get(digest) == b"model bytes"
    store.path(digest).unlink()
    with pytest.raises(NotFoundError):
        store.get(digest)
    with pytest.raises(IntegrityError, match="malformed"):
        store.get("../../etc/passwd")


def test_fsspec_store_round_trip_and_integrity() -> None:
    store = open_artifact_store("memory://shipyard-test-artifacts")
    assert isinstance(store, FsspecArtifactStore)
    digest = store.put(b"abc" * 1000)
    assert store.exists(digest)
    assert store.get(digest) == b"abc" * 1000
    store.fs.pipe_file(f"{store.base}/sha256/{digest[:2]}/{digest}", b"tampered")
    with pytest.raises(IntegrityError):
        store.get(digest)


def test_file_urls_open_the_local_store(tmp_path: Path) -> None:
    assert isinstance(open_artifact_store(f"file://{tmp_path}"), LocalArtifactStore)
    assert isinstance(open_artifact_store(str(tmp_path)), LocalArtifactStore)
