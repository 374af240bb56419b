"""The file-storage contract, run against every backend: the local folder and S3 (boto3 against moto in server mode,
its own process over HTTP). Domain code only sees this contract, so a backend that passes it can replace another."""
from __future__ import annotations

import hashlib
import io
import uuid

import httpx
import pytest

from servicekit.storage import LocalStorage, S3Storage, safe_name
from servicekit.testing import S3Server


@pytest.fixture(scope="module")
def s3_server():
    with S3Server() as server:
        yield server


@pytest.fixture(params=["local", "s3", "s3-encrypted"])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    server = request.getfixturevalue("s3_server")
    bucket = server.make_bucket(f"contract-{uuid.uuid4().hex[:10]}")
    for name, value in server.env.items():  # credentials reach boto3 as a service's do: from the environment
        monkeypatch.setenv(name, value)
    store = S3Storage(bucket, "svc/uploads", endpoint_url=server.endpoint_url, region=server.REGION,
                      sse="AES256" if request.param == "s3-encrypted" else "", presign_expiry_s=60)
    store.server, store.bucket_name = server, bucket
    return store


def test_put_get_open_size_exists(store):
    size, sha = store.put("t1/imp/a.txt", io.BytesIO(b"x" * 3_000_000))  # a stream: several parts on S3
    assert (size, sha) == (3_000_000, hashlib.sha256(b"x" * 3_000_000).hexdigest())
    assert store.size("t1/imp/a.txt") == size and store.exists("t1/imp/a.txt")
    assert store.put("t1/imp/a.txt", b"second") == (6, hashlib.sha256(b"second").hexdigest())  # replaces
    assert store.get("t1/imp/a.txt") == b"second"
    with store.open("t1/imp/a.txt") as stream:
        assert stream.read() == b"second"
    assert not store.exists("t1/imp/missing.txt")
    with pytest.raises(FileNotFoundError):
        store.size("t1/imp/missing.txt")
    with pytest.raises(FileNotFoundError):
        store.get("t1/imp/missing.txt")


def test_delete_and_delete_prefix_leave_other_keys(store):
    for key in ("t1/imp1/a.csv", "t1/imp1/b.csv", "t1/imp10/c.csv", "t2/imp1/a.csv"):
        store.put(key, key.encode())
    store.delete("t1/imp1/b.csv")
    store.delete("t1/imp1/b.csv")  # deleting twice is fine (jobs are re-run)
    assert not store.exists("t1/imp1/b.csv") and store.exists("t1/imp1/a.csv")
    store.delete_prefix("t1/imp1")  # a folder of keys: not its sibling imp10, not another tenant's
    assert not store.exists("t1/imp1/a.csv")
    assert store.exists("t1/imp10/c.csv") and store.exists("t2/imp1/a.csv")
    store.delete_prefix("t1/nothing-here")
    assert sorted(store.keys("t1")) == ["t1/imp10/c.csv"]
    assert sorted(store.keys()) == ["t1/imp10/c.csv", "t2/imp1/a.csv"]
    assert sorted(store.prefixes()) == ["t1", "t2"]  # the tenants that have files (periodic jobs walk them)


def test_keys_must_be_plain_relative_paths(store):
    for bad in ("../outside", "/abs", "t1//x", "t1/./x", "t1/../t2/x", ""):
        with pytest.raises(ValueError):
            store.put(bad, b"no")
    assert list(store.keys()) == []  # nothing was stored half-way
    assert safe_name("../../etc/passwd") == "passwd"


def test_download_link(store):
    store.put("t1/r1.pdf", b"%PDF-1.7 report")
    link = store.url("t1/r1.pdf", filename="report.pdf", content_type="application/pdf")
    if isinstance(store, LocalStorage):
        assert link is None  # no link of its own: the service streams the file
        return
    answer = httpx.get(link)  # the presigned GET works without credentials, for this object only
    assert answer.status_code == 200 and answer.content == b"%PDF-1.7 report"
    assert answer.headers["content-type"] == "application/pdf"
    assert 'filename="report.pdf"' in answer.headers["content-disposition"]
    assert "X-Amz-Expires=60" in link
    tampered = link.replace("t1/r1.pdf", "t1/other.pdf")
    assert httpx.get(tampered).status_code == 403  # the signature covers the key


def test_s3_objects_carry_the_prefix_and_the_encryption_asked_for(store):
    if isinstance(store, LocalStorage):
        assert [p.name for p in store.root.iterdir()] == [] if store.root.exists() else True
        store.put("tenant-a/x.bin", b"1")
        assert (store.root / "tenant-a" / "x.bin").read_bytes() == b"1"
        return
    store.put("tenant-a/imp/x.bin", b"1")
    store.put("tenant-b/imp/y.bin", io.BytesIO(b"2"))
    objects = store.server.objects(store.bucket_name)
    assert sorted(objects) == ["svc/uploads/tenant-a/imp/x.bin", "svc/uploads/tenant-b/imp/y.bin"]
    encrypted = {name: head.get("ServerSideEncryption") for name, head in objects.items()}
    expected = "AES256" if store.extra else None
    assert set(encrypted.values()) == {expected}


def test_s3_settings_are_checked():
    with pytest.raises(RuntimeError, match="S3_BUCKET"):
        S3Storage("", client=object())
    with pytest.raises(RuntimeError, match="S3_SSE"):
        S3Storage("b", sse="rot13", client=object())
