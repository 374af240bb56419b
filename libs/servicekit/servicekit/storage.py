"""File storage: one small interface for the files a service keeps (uploads, rendered PDFs), with a local-folder
backend and an S3-compatible one (boto3), chosen from settings without touching domain code.

    store = storage.store("UPLOADS_DIR")            # settings.UPLOADS_DIR is the root; settings.FILE_STORAGE the kind
    size, sha256 = store.put(f"{tenant}/{import_id}/{storage.safe_name(name)}", upload)   # bytes or a stream
    store.get(key) / store.open(key) / store.exists(key) / store.size(key) / store.delete(key)
    store.delete_prefix(f"{tenant}/{import_id}")    # a folder of keys (an import's files)

Keys are made by the service from ids (never a client's path) and stay inside the root. Writes are atomic: a
temporary file in the same folder, fsync, rename — a reader never sees half a file, a killed writer leaves no
partial file under the key, and writing the same key again replaces it.

S3 (`FILE_STORAGE=s3` / `REPORT_STORAGE=s3`; settings from the environment, see `s3_settings`): one bucket
(`S3_BUCKET`), objects named `<S3_PREFIX>/<store>/<key>` where the store is the root setting's name ("uploads" for
UPLOADS_DIR, "reports" for REPORTS_DIR) and every key starts with the tenant id, so each tenant has a prefix of its
own (a lifecycle rule, a bucket policy or an export can address one tenant). `S3_SSE` asks the server to encrypt
each object (`AES256`, or `aws:kms` with `S3_SSE_KMS_KEY_ID`). `S3_ENDPOINT_URL` points at any S3-compatible server
(MinIO, Ceph, moto); credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a web
identity token, an instance role), never from settings files. A PUT is atomic on S3: readers see the old object or
the new one, never half of one. `url(key, ...)` is a presigned GET valid `S3_PRESIGN_EXPIRY_S` seconds (None for
the local backend, which has no URL of its own); a download route may redirect to it (see reports' README).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

CHUNK = 1024 * 1024


class Storage(Protocol):
    def put(self, key: str, data: bytes | BinaryIO) -> tuple[int, str]: ...     # → (size, sha256 hex)
    def get(self, key: str) -> bytes: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def keys(self, prefix: str = "") -> Iterator[str]: ...                       # every stored key under a prefix
    def prefixes(self) -> Iterator[str]: ...                                     # the keys' first parts (tenants)
    def url(self, key: str, *, filename: str | None = None,
            content_type: str | None = None) -> str | None: ...                 # presigned GET, or None


def check_key(key: str) -> str:
    """A key is relative, made of non-empty parts, none of them `.` or `..` (the same rule for every backend)."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"storage key {key!r} is not a relative path of plain parts")
    return key


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
        path = (self.root / check_key(key)).resolve()
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

    def keys(self, prefix: str = "") -> Iterator[str]:
        start = self.path(prefix) if prefix else self.root
        if start.is_file():
            yield prefix
            return
        for path in sorted(start.rglob("*")) if start.is_dir() else ():
            if path.is_file() and not path.name.endswith(self.TMP_SUFFIX):
                yield path.relative_to(self.root).as_posix()

    def prefixes(self) -> Iterator[str]:
        if self.root.is_dir():
            yield from sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def url(self, key: str, *, filename: str | None = None, content_type: str | None = None) -> None:
        return None  # a folder has no URL a client could use: the service streams the file


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


class _Hashing:
    """A stream that counts and hashes what is read from it (boto3 reads the upload once, in parts)."""

    def __init__(self, stream):
        self.stream, self.digest, self.size = stream, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(n)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


class S3Storage:
    """Objects in an S3-compatible bucket under `<prefix>/`; the key is the rest of the object's name."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str | None = None,
                 sse: str = "", kms_key_id: str = "", presign_expiry_s: int = 300, addressing: str = "path",
                 client=None):
        if not bucket:
            raise RuntimeError("S3 file storage needs S3_BUCKET")
        if sse not in ("", "AES256", "aws:kms"):
            raise RuntimeError(f"S3_SSE={sse!r}: '' (none), 'AES256' or 'aws:kms'")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.presign_expiry_s = presign_expiry_s
        self.extra = {}
        if sse:
            self.extra["ServerSideEncryption"] = sse
            if sse == "aws:kms" and kms_key_id:
                self.extra["SSEKMSKeyId"] = kms_key_id
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None,
                                  config=Config(s3={"addressing_style": addressing}, signature_version="s3v4",
                                                retries={"max_attempts": 5, "mode": "standard"},
                                                connect_timeout=5, read_timeout=60))
        self.client = client

    def name(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data) -> tuple[int, str]:
        name = self.name(key)
        if isinstance(data, (bytes, bytearray, memoryview)):
            body = bytes(data)
            digest = hashlib.sha256(body).hexdigest()
            self.client.put_object(Bucket=self.bucket, Key=name, Body=body,
                                   **self.extra)
            return len(body), digest
        stream = _Hashing(data)
        self.client.upload_fileobj(stream, self.bucket, name, ExtraArgs=dict(self.extra))
        return stream.size, stream.digest.hexdigest()

    def get(self, key: str) -> bytes:
        return self.open(key).read()

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.name(key))["Body"]
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(key) from exc

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.name(key))  # no error when it is not there

    def _names(self, prefix: str) -> Iterator[str]:
        base = self.name(prefix) if prefix else self.prefix
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=f"{base}/" if base else "")
        if prefix and self._head(prefix) is not None:
            yield base
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"]

    def delete_prefix(self, prefix: str) -> None:
        batch = []
        for name in self._names(prefix):
            batch.append({"Key": name})
            if len(batch) == 1000:  # the most one DeleteObjects call takes
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                batch = []
        if batch:
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def keys(self, prefix: str = "") -> Iterator[str]:
        cut = len(self.prefix) + 1 if self.prefix else 0
        for name in self._names(prefix):
            yield name[cut:]

    def prefixes(self) -> Iterator[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base, Delimiter="/")
        for page in pages:
            for common in page.get("CommonPrefixes", ()):
                yield common["Prefix"][len(base):].rstrip("/")

    def url(self, key: str, *, filename: str | None = None, content_type: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": self.name(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{safe_name(filename)}"'
        if content_type:
            params["ResponseContentType"] = content_type
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_expiry_s)


def s3_settings() -> dict:
    """The S3 settings every Django service reads (servicekit.django.settings.build), from the environment."""
    from . import config

    return {
        "S3_BUCKET": config.env("S3_BUCKET", ""),
        "S3_PREFIX": config.env("S3_PREFIX", ""),            # default: the service's name
        "S3_ENDPOINT_URL": config.env("S3_ENDPOINT_URL", ""),  # empty: AWS itself
        "S3_REGION": config.env("S3_REGION", ""),
        "S3_ADDRESSING": config.env("S3_ADDRESSING", "path"),  # "path" suits most S3-compatible servers
        "S3_SSE": config.env("S3_SSE", ""),                  # "", "AES256", "aws:kms"
        "S3_SSE_KMS_KEY_ID": config.env("S3_SSE_KMS_KEY_ID", ""),
        "S3_PRESIGNED_DOWNLOADS": config.env_bool("S3_PRESIGNED_DOWNLOADS", False),
        "S3_PRESIGN_EXPIRY_S": config.env_int("S3_PRESIGN_EXPIRY_S", 300),
    }


def _s3_store(settings, root_setting: str) -> S3Storage:
    store_name = root_setting.lower().removesuffix("_dir")  # UPLOADS_DIR -> uploads, REPORTS_DIR -> reports
    prefix = getattr(settings, "S3_PREFIX", "") or getattr(settings, "SERVICE_NAME", "")
    return S3Storage(getattr(settings, "S3_BUCKET", ""), f"{prefix.strip('/')}/{store_name}".strip("/"),
                     endpoint_url=getattr(settings, "S3_ENDPOINT_URL", "") or None,
                     region=getattr(settings, "S3_REGION", "") or None, sse=getattr(settings, "S3_SSE", ""),
                     kms_key_id=getattr(settings, "S3_SSE_KMS_KEY_ID", ""),
                     presign_expiry_s=int(getattr(settings, "S3_PRESIGN_EXPIRY_S", 300)),
                     addressing=getattr(settings, "S3_ADDRESSING", "path") or "path")


BACKENDS = {"local": LocalStorage, "s3": S3Storage}
_stores: dict[tuple[str, str], Storage] = {}
_overrides: dict[str, Storage] = {}


def store(root_setting: str, *, backend_setting: str = "FILE_STORAGE") -> Storage:
    """The store whose root is `settings.<root_setting>`, of the kind `settings.<backend_setting>` (default
    "local"). Settings are read on every call (tests move the root), the store object is kept per (kind, root)."""
    if root_setting in _overrides:
        return _overrides[root_setting]
    from django.conf import settings

    kind = getattr(settings, backend_setting, None) or "local"
    if kind not in BACKENDS:
        raise RuntimeError(f"{backend_setting}={kind!r}: the file storage backends are {', '.join(BACKENDS)}")
    if kind == "s3":
        where = "|".join(str(getattr(settings, name, "")) for name in (
            "S3_BUCKET", "S3_PREFIX", "S3_ENDPOINT_URL", "S3_REGION", "S3_SSE", "S3_SSE_KMS_KEY_ID",
            "S3_PRESIGN_EXPIRY_S", "S3_ADDRESSING")) + "|" + root_setting
    else:
        where = str(getattr(settings, root_setting))
    found = _stores.get((kind, where))
    if found is None:
        found = _stores[(kind, where)] = _s3_store(settings, root_setting) if kind == "s3" else LocalStorage(where)
    return found


def override(root_setting: str, replacement: Storage | None) -> None:
    """Tests: use `replacement` for that store (None: back to settings)."""
    if replacement is None:
        _overrides.pop(root_setting, None)
    else:
        _overrides[root_setting] = replacement
