"""Where rendered PDFs live, behind a small interface so that S3-compatible storage can follow.

Keys are `<tenant>/<report>.pdf`: one report, one key, so a re-run (a killed worker's redelivery) replaces the file
instead of adding one. Writes are atomic: a temporary file in the same folder, fsync, os.replace.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol


class ReportStorage(Protocol):
    def save(self, key: str, data: bytes) -> None: ...

    def open(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None: ...


def report_key(tenant_id, report_id) -> str:
    return f"{tenant_id}/{report_id}.pdf"


class LocalReportStorage:
    TMP_SUFFIX = ".tmp"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"storage key {key!r} leaves the storage folder")
        return path

    def _leftovers(self, path: Path):
        return path.parent.glob(f".{path.name}.*{self.TMP_SUFFIX}")

    def save(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in self._leftovers(path):  # a worker killed mid-write left its temporary file behind
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=self.TMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


_storage: ReportStorage | None = None


def get_storage() -> ReportStorage:
    global _storage
    if _storage is None:
        from django.conf import settings

        if settings.REPORT_STORAGE != "local":
            raise RuntimeError(f"REPORT_STORAGE={settings.REPORT_STORAGE!r}: only 'local' exists so far")
        _storage = LocalReportStorage(settings.REPORTS_DIR)
    return _storage


def set_storage(storage: ReportStorage | None) -> None:
    global _storage
    _storage = storage
