"""Each replica reads a shared remote artifact store through its own local cache by digest, and
checks every cached copy: a corrupt one is evicted and fetched again, never loaded."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from shipyard.errors import IntegrityError, NotFoundError
from shipyard.registry.artifacts import (
    CachedArtifactStore,
    FsspecArtifactStore,
    LocalArtifactStore,
    digest_of,
    open_artifact_store,
)

MODEL = b"model bytes " * 1000


@pytest.fixture
def remote_url() -> str:
    """A fresh in-memory fsspec store: the "object storage" every replica shares."""
    return f"memory://shipyard-cache-test-{uuid.uuid4().hex}"


def _replica(remote_url: str, cache: Path) -> CachedArtifactStore:
    store = open_artifact_store(remote_url, cache_dir=cache)
    assert isinstance(store, CachedArtifactStore)
    return store


def test_a_remote_store_is_read_through_the_local_cache(remote_url: str, tmp_path: Path) -> None:
    store = _replica(remote_url, tmp_path / "cache")
    assert store.url == remote_url
    digest = store.put(MODEL)  # written remotely and kept locally
    assert digest == digest_of(MODEL)
    assert store.path(digest).read_bytes() == MODEL
    assert store.path(digest).is_relative_to(tmp_path / "cache")
    assert store.exists(digest)
    assert store.get(digest) == MODEL and (store.hits, store.misses) == (1, 0)
    assert not list(store.path(digest).parent.glob("*.tmp"))


def test_replicas_fetch_once_each_then_serve_from_their_cache(
    remote_url: str, tmp_path: Path
) -> None:
    digest = FsspecArtifactStore(remote_url).put(MODEL)  # registered elsewhere
    replicas = [_replica(remote_url, tmp_path / f"replica-{i}") for i in range(3)]
    for replica in replicas:
        assert replica.get(digest) == MODEL
        assert (replica.hits, replica.misses) == (0, 1)
    remote = FsspecArtifactStore(remote_url)
    remote.fs.rm(f"{remote.base}/sha256/{digest[:2]}/{digest}")  # the remote copy is gone...
    for replica in replicas:
        assert replica.get(digest) == MODEL  # ...every replica still has its own
        assert (replica.hits, replica.misses) == (1, 1)
        assert not replica.exists(digest)  # existence is the remote store's answer


def test_a_corrupt_cached_copy_is_evicted_and_fetched_again(
    remote_url: str, tmp_path: Path
) -> None:
    store = _replica(remote_url, tmp_path / "cache")
    digest = store.put(MODEL)
    store.path(digest).write_bytes(MODEL[:-1] + b"!")  # bit rot, or a tampered file
    assert store.get(digest) == MODEL
    assert (store.evictions, store.misses) == (1, 1)
    assert store.path(digest).read_bytes() == MODEL  # repaired
    store.path(digest).write_bytes(MODEL[:100])  # a copy torn by a crash
    assert store.get(digest) == MODEL and store.evictions == 2


def test_a_corrupt_copy_with_no_remote_copy_is_an_error_not_a_model(
    remote_url: str, tmp_path: Path
) -> None:
    store = _replica(remote_url, tmp_path / "cache")
    digest = store.put(MODEL)
    remote = FsspecArtifactStore(remote_url)
    remote.fs.rm(f"{remote.base}/sha256/{digest[:2]}/{digest}")
    store.path(digest).write_bytes(b"tampered")
    with pytest.raises(NotFoundError, match=digest):
        store.get(digest)
    assert not store.path(digest).exists()  # evicted, not kept
    remote.fs.pipe_file(f"{remote.base}/sha256/{digest[:2]}/{digest}", b"tampered remotely")
    with pytest.raises(IntegrityError, match="does not match its recorded digest"):
        store.get(digest)
    assert not store.path(digest).exists()  # remote bytes that fail the check are not cached
    with pytest.raises(IntegrityError, match="malformed"):
        store.get("../../etc/passwd")


def test_concurrent_readers_share_one_cache_safely(remote_url: str, tmp_path: Path) -> None:
    digest = FsspecArtifactStore(remote_url).put(MODEL)
    cache = tmp_path / "cache"
    results: list[bytes | BaseException] = []

    def read() -> None:
        try:
            # One store per thread, as separate replica processes sharing a cache folder would.
            results.append(_replica(remote_url, cache).get(digest))
        except BaseException as exc:  # recorded, asserted on in the test's thread
            results.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [MODEL] * 8
    folder = CachedArtifactStore(FsspecArtifactStore(remote_url), cache).path(digest).parent
    assert [p.name for p in folder.iterdir()] == [digest]  # no temporary files left behind


def test_a_local_folder_is_not_cached(tmp_path: Path) -> None:
    store = open_artifact_store(str(tmp_path / "shared"), cache_dir=tmp_path / "cache")
    assert isinstance(store, LocalArtifactStore)
    assert isinstance(open_artifact_store("memory://x"), FsspecArtifactStore)  # no cache asked
