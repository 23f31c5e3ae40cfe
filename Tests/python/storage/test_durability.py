"""Crashes and full disks against the real binary: kill -9 in the middle of a put and of a
multipart complete leaves the old object or the new one, never part of one, and the janitor
reclaims what the crash left; a full data directory (a small tmpfs) refuses a put with an S3
error and every earlier object reads back intact."""
import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import Process, base_env, client


def blob_files(data_dir):
    return sorted(str(p) for p in Path(data_dir, "blobs").rglob("*") if p.is_file())


def temp_files(data_dir):
    return sorted(str(p) for p in Path(data_dir, "tmp").rglob("*") if p.is_file())


def wait_for(predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_kill_during_put_keeps_the_old_object_and_the_janitor_reclaims_the_rest(platform, s3key, s3):
    s3.create_bucket(Bucket="crash-put")
    old = os.urandom(100_000)
    s3.put_object(Bucket="crash-put", Key="k", Body=old)
    # A presigned PUT sent by hand: most of the body, then the process dies under it.
    signer = client(platform, s3key, signature_version="s3v4")
    url = signer.generate_presigned_url("put_object", Params={"Bucket": "crash-put", "Key": "k"}, ExpiresIn=300)
    path = url.split(platform.storage.address, 1)[1]
    size = 6 << 20
    with socket.create_connection((platform.storage.address.split(":")[0], platform.storage.port)) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {platform.storage.address}\r\nContent-Length: {size}\r\n\r\n".encode())
        sock.sendall(os.urandom(size - 4096))
        # The bytes are being written: a temporary file exists when the process dies.
        assert wait_for(lambda: temp_files(platform.data_dir) != [], timeout=10), "the put streams to a temporary file"
        platform.storage.kill()
    platform.storage.start()
    c = client(platform, s3key)
    assert c.get_object(Bucket="crash-put", Key="k")["Body"].read() == old
    # Whatever the put wrote is unreferenced: gone after the grace period.
    referenced = set(blob_files(platform.data_dir))
    assert wait_for(lambda: temp_files(platform.data_dir) == []), temp_files(platform.data_dir)
    assert set(blob_files(platform.data_dir)) <= referenced
    assert c.get_object(Bucket="crash-put", Key="k")["Body"].read() == old


def test_kill_during_complete_leaves_old_or_new_never_partial(platform, s3key, s3):
    s3.create_bucket(Bucket="crash-mpu")
    s3.put_object(Bucket="crash-mpu", Key="big", Body=b"old")
    upload = s3.create_multipart_upload(Bucket="crash-mpu", Key="big")["UploadId"]
    parts, whole = [], b""
    for number, size in ((1, 5 << 20), (2, 1000)):
        data = os.urandom(size)
        whole += data
        etag = s3.upload_part(Bucket="crash-mpu", Key="big", UploadId=upload, PartNumber=number, Body=data)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    signer = client(platform, s3key, signature_version="s3v4")
    url = signer.generate_presigned_url("complete_multipart_upload", Params={"Bucket": "crash-mpu", "Key": "big", "UploadId": upload},
                                    ExpiresIn=300)
    body = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{p['PartNumber']}</PartNumber><ETag>{p['ETag']}</ETag></Part>" for p in parts) + "</CompleteMultipartUpload>"
    path = url.split(platform.storage.address, 1)[1]
    with socket.create_connection((platform.storage.address.split(":")[0], platform.storage.port)) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {platform.storage.address}\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
        platform.storage.kill()
    platform.storage.start()
    c = client(platform, s3key)
    now = c.get_object(Bucket="crash-mpu", Key="big")["Body"].read()
    assert now in (b"old", whole), "old or new, never a mixture"
    if now == b"old":  # the commit never happened: the upload is intact and completes now
        c.complete_multipart_upload(Bucket="crash-mpu", Key="big", UploadId=upload, MultipartUpload={"Parts": parts})
        assert hashlib.md5(c.get_object(Bucket="crash-mpu", Key="big")["Body"].read()).digest() == hashlib.md5(whole).digest()


def test_a_full_disk_refuses_the_put_and_keeps_what_was_stored(platform, s3key, tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        env = dict(platform.storage_env, NIMBUS_STORAGE_DATA_DIR=str(mount), NIMBUS_STORAGE_JANITOR_GRACE_SECONDS="86400")
        small = Process("nimbus-storage", ["nimbus-storage", "serve"], env, platform.storage.log_path.parent)
        try:
            c = client(platform, s3key, endpoint=small.url)
            c.create_bucket(Bucket="full-disk")
            kept = {f"k{i}": os.urandom(400_000) for i in range(4)}
            for key, data in kept.items():
                c.put_object(Bucket="full-disk", Key=key, Body=data)
            with pytest.raises(ClientError) as full:
                c.put_object(Bucket="full-disk", Key="too-big", Body=os.urandom(2_500_000))
            assert full.value.response["Error"]["Code"] == "InsufficientStorage"
            assert full.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            for key, data in kept.items():
                assert c.get_object(Bucket="full-disk", Key=key)["Body"].read() == data
            with pytest.raises(ClientError):
                c.head_object(Bucket="full-disk", Key="too-big")
            assert temp_files(mount) == [], "the refused write left nothing behind"
            for key in kept:
                c.delete_object(Bucket="full-disk", Key=key)
            c.delete_bucket(Bucket="full-disk")
        finally:
            small.stop()
    finally:
        subprocess.run(["umount", str(mount)], check=False)
