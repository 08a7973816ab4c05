"""The content-addressed artifact store.

Bytes are stored under their sha256 (``sha256/ab/abcdef...``), written atomically (temporary
file, fsync, rename, fsync of the folder) before any database row names them, and verified
against their digest on every read: a mismatch raises ``IntegrityError`` and nothing is returned.
A local folder is the default; any fsspec URL (``s3://``, ``gs://``, ``memory://``...) works too.

Replicas that share a remote store each keep a local copy of what they loaded
(:class:`CachedArtifactStore`, under ``cache_dir``): one download per digest per machine. A cached
file is checked against its digest on every read too; one that does not match is evicted and
fetched again, so a torn or tampered cache can cost a download but never a wrong model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path
from typing import Any, Protocol

from shipyard.errors import IntegrityError, NotFoundError, StoreError

__all__ = [
    "ArtifactStore",
    "CachedArtifactStore",
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "digest_of",
    "open_artifact_store",
]

log = logging.getLogger("shipyard.registry")


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise IntegrityError(f"malformed artifact digest {digest!r}")
    return f"sha256/{digest[:2]}/{digest}"


class ArtifactStore(Protocol):
    url: str

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its sha256 digest (idempotent)."""

    def get(self, digest: str) -> bytes:
        """Return the bytes with this digest, verified; ``IntegrityError`` if they differ."""

    def exists(self, digest: str) -> bool: ...


class LocalArtifactStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def path(self, digest: str) -> Path:
        return self.root / _key(digest)

    def put(self, data: bytes) -> str:
        digest = digest_of(data)
        target = self.path(digest)
        if target.exists() and _file_digest(target) == digest:
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{digest}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write artifact to {target.parent}: {exc}") from exc
        _fsync_dir(target.parent)
        return digest

    def get(self, digest: str) -> bytes:
        target = self.path(digest)
        try:
            data = target.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"artifact {digest} is missing from {self.root}; the store was moved or pruned"
            ) from exc
        _check(data, digest, target)
        return data

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()


class FsspecArtifactStore:
    """Any fsspec filesystem. Object stores make a single ``put`` atomic; elsewhere a temporary
    key is written and moved into place."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.fs, self.base = fsspec.core.url_to_fs(self.url, **storage_options)

    def put(self, data: bytes) -> str:
        digest = digest_of(data)
        target = f"{self.base}/{_key(digest)}"
        if self.fs.exists(target):
            try:
                if digest_of(self.fs.cat_file(target)) == digest:
                    return digest
            except OSError:
                pass
        tmp = f"{self.base}/tmp/{digest}.{uuid.uuid4().hex}"
        try:
            self.fs.makedirs(f"{self.base}/tmp", exist_ok=True)
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, target)
        except OSError as exc:
            raise StoreError(f"cannot write artifact to {self.url}: {exc}") from exc
        return digest

    def get(self, digest: str) -> bytes:
        target = f"{self.base}/{_key(digest)}"
        try:
            data: bytes = self.fs.cat_file(target)
        except FileNotFoundError as exc:
            raise NotFoundError(f"artifact {digest} is missing from {self.url}") from exc
        _check(data, digest, target)
        return data

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(f"{self.base}/{_key(digest)}"))


class CachedArtifactStore:
    """A remote store behind a local cache by digest (one folder per machine or replica).

    Reads look in the cache first and verify what they find; a miss (or an evicted corrupt copy)
    is fetched from the remote store, verified there, and kept. Writes go to the remote store and
    are kept too. Cache files are written atomically (temporary file, rename) but not fsynced: a
    copy torn by a crash fails its digest check and is fetched again.
    """

    def __init__(self, remote: ArtifactStore, cache_dir: str | Path) -> None:
        self.remote = remote
        self.url = remote.url
        self.cache_dir = Path(cache_dir)
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def path(self, digest: str) -> Path:
        return self.cache_dir / _key(digest)

    def put(self, data: bytes) -> str:
        digest = self.remote.put(data)
        self._keep(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        target = self.path(digest)
        try:
            cached: bytes | None = target.read_bytes()
        except FileNotFoundError:
            cached = None
        except OSError as exc:
            log.warning("artifact cache: cannot read %s (%s); fetching %s", target, exc, self.url)
            cached = None
        if cached is not None:
            if digest_of(cached) == digest:
                self.hits += 1
                return cached
            log.warning(
                "artifact cache: %s does not match its digest; evicted, fetching it again from %s",
                target,
                self.url,
            )
            self.evictions += 1
            target.unlink(missing_ok=True)
        self.misses += 1
        data = self.remote.get(digest)  # verified against the digest by the remote store
        self._keep(digest, data)
        return data

    def exists(self, digest: str) -> bool:
        return self.remote.exists(digest)

    def _keep(self, digest: str, data: bytes) -> None:
        """Cache ``data``; failing to is logged and costs only a later download."""
        target = self.path(digest)
        tmp = target.with_name(f".{digest}.{uuid.uuid4().hex}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)  # readers see the old file or the whole new one
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("artifact cache: cannot keep %s in %s: %s", digest, self.cache_dir, exc)


def open_artifact_store(url: str, *, cache_dir: str | Path | None = None) -> ArtifactStore:
    """The store at ``url``: a local folder (a path or ``file://``) or any fsspec URL. With
    ``cache_dir``, a remote (fsspec) store is read through a local cache by digest; a local
    folder is read directly, since a cache would only copy it."""
    if "://" not in url or url.startswith("file://"):
        return LocalArtifactStore(url.removeprefix("file://"))
    remote = FsspecArtifactStore(url)
    return remote if cache_dir is None else CachedArtifactStore(remote, cache_dir)


def _check(data: bytes, digest: str, where: object) -> None:
    actual = digest_of(data)
    if actual != digest:
        raise IntegrityError(
            f"artifact {where} does not match its recorded digest (expected sha256 {digest}, "
            f"found {actual}): its bytes were changed; nothing was loaded. Restore the file "
            "from a backup or register the model again"
        )


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
