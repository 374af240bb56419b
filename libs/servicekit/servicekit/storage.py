"""File storage: one small interface for the files a service keeps (uploads, rendered PDFs), one local-folder backend,
chosen from settings so that an S3-compatible backend can follow without touching domain code.

    store = storage.store("UPLOADS_DIR")            # settings.UPLOADS_DIR is the root; settings.FILE_STORAGE the kind
    size, sha256 = store.put(f"{tenant}/{import_id}/{storage.safe_name(name)}", upload)   # bytes or a stream
    store.get(key) / store.open(key) / store.exists(key) / store.size(key) / store.delete(key)
    store.delete_prefix(f"{tenant}/{import_id}")    # a folder of keys (an import's files)

Keys are made by the service from ids (never a client's path) and stay inside the root. Writes are atomic: a
temporary file in the same folder, fsync, rename — a reader never sees half a file, a killed writer leaves no
partial file under the key, and writing the same key again replaces it.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


class Storage(Protocol):
    def put(self, key: str, data: bytes | BinaryIO) -> tuple[int, str]: ...     # → (size, sha256 hex)
    def get(self, key: str) -> bytes: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...


def safe_name(filename: str, default: str = "upload") -> str:
    """A client's file name as a key part: its last path part, in safe characters, at most 120 of them."""
    name = Path(filename or default).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or default
    return name[:120]


class LocalStorage:
    """Files under a folder; the key is the relative path."""

    TMP_SUFFIX = ".part"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"storage key {key!r} leaves the storage folder")
        return path

    def put(self, key: str, data) -> tuple[int, str]:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*{self.TMP_SUFFIX}"):  # a killed writer's leftovers
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=self.TMP_SUFFIX)
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    chunks = [bytes(data)]
                else:
                    chunks = iter(lambda: data.read(CHUNK), b"")
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return size, digest.hexdigest()

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        path = self.path(prefix)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """The rename itself survives a power cut only once the folder is synced (best effort: not every OS can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


BACKENDS = {"local": LocalStorage}
_stores: dict[tuple[str, str], Storage] = {}
_overrides: dict[str, Storage] = {}


def store(root_setting: str, *, backend_setting: str = "FILE_STORAGE") -> Storage:
    """The store whose root is `settings.<root_setting>`, of the kind `settings.<backend_setting>` (default
    "local"). Settings are read on every call (tests move the root), the store object is kept per (kind, root)."""
    if root_setting in _overrides:
        return _overrides[root_setting]
    from django.conf import settings

    kind = getattr(settings, backend_setting, None) or "local"
    root = str(getattr(settings, root_setting))
    if kind not in BACKENDS:
        raise RuntimeError(f"{backend_setting}={kind!r}: the file storage backends are {', '.join(BACKENDS)}")
    found = _stores.get((kind, root))
    if found is None:
        found = _stores[(kind, root)] = BACKENDS[kind](root)
    return found


def override(root_setting: str, replacement: Storage | None) -> None:
    """Tests: use `replacement` for that store (None: back to settings)."""
    if replacement is None:
        _overrides.pop(root_setting, None)
    else:
        _overrides[root_setting] = replacement
