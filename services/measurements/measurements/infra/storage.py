"""Where uploaded files live: a tiny interface, a local-folder implementation (VO2_DATA_DIR/uploads/<tenant>/...).

Keys are made here from ids (never from a client's path); an S3-compatible store can implement the same four
methods later.
"""
from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings


class FileStorage(Protocol):
    def save(self, tenant_id: str, folder: str, filename: str, stream: BinaryIO) -> tuple[str, int, str]: ...
    def read(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete_folder(self, tenant_id: str, folder: str) -> None: ...


def safe_name(filename: str) -> str:
    name = Path(filename or "upload").name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "upload"
    return name[:120]


class LocalFileStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError("storage key escapes the storage root")
        return path

    def save(self, tenant_id, folder, filename, stream):
        """Stream to disk; returns (key, size, sha256)."""
        key = f"{tenant_id}/{folder}/{safe_name(filename)}"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        tmp = path.with_suffix(path.suffix + ".part")
        with open(tmp, "wb") as out:
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        tmp.replace(path)
        return key, size, digest.hexdigest()

    def read(self, key):
        return self._path(key).read_bytes()

    def exists(self, key):
        return self._path(key).exists()

    def delete_folder(self, tenant_id, folder):
        shutil.rmtree(self._path(f"{tenant_id}/{folder}"), ignore_errors=True)


_storage: FileStorage | None = None


def get_storage() -> FileStorage:
    global _storage
    if _storage is None or (isinstance(_storage, LocalFileStorage)
                            and _storage.root != Path(settings.UPLOADS_DIR).resolve()):
        _storage = LocalFileStorage(settings.UPLOADS_DIR)
    return _storage
