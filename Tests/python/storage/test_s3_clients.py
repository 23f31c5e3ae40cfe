"""Real S3 clients, unmodified, against nimbus-storage's S3 face: boto3 (SigV4 headers, its
default checksums), presigned URLs with curl, aws-cli; what a team does on day one."""
import hashlib
import os
import subprocess
import time
import zlib
import base64

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import client, create_s3_key

ROOT_MIB = 1 << 20


def code(error):
    return error.value.response["Error"]["Code"]


def status(error):
    return error.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_bucket_and_object_round_trip(s3):
    s3.create_bucket(Bucket="day-one")
    assert "day-one" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    body = os.urandom(300_000)
    put = s3.put_object(Bucket="day-one", Key="dir/hello wörld.bin", Body=body, ContentType="application/x-demo",
                        Metadata={"owner": "team-a"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket="day-one", Key="dir/hello wörld.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-demo" and got["Metadata"] == {"owner": "team-a"}
    head = s3.head_object(Bucket="day-one", Key="dir/hello wörld.bin")
    assert head["ETag"] == put["ETag"]
    ranged = s3.get_object(Bucket="day-one", Key="dir/hello wörld.bin", Range="bytes=10-19")
    assert ranged["Body"].read() == body[10:20] and ranged["ContentRange"] == "bytes 10-19/300000"
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket="day-one", Key="nope")
    assert code(missing) == "NoSuchKey"
    s3.delete_object(Bucket="day-one", Key="dir/hello wörld.bin")
    with pytest.raises(ClientError) as gone:
        s3.head_object(Bucket="day-one", Key="dir/hello wörld.bin")
    assert status(gone) == 404
    with pytest.raises(ClientError) as bad_name:
        s3.create_bucket(Bucket="Not_Valid")
    assert status(bad_name) == 400


def test_checksums_sent_by_current_boto3_are_verified_and_kept(s3):
    s3.create_bucket(Bucket="sums")
    body = b"checksummed " * 1000
    put = s3.put_object(Bucket="sums", Key="k", Body=body, ChecksumAlgorithm="CRC32")
    expected = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert put["ChecksumCRC32"] == expected
    got = s3.get_object(Bucket="sums", Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got["ChecksumCRC32"] == expected
    for algorithm in ("SHA1", "SHA256"):  # CRC32C needs botocore[crt]; the Swift suite covers it
        s3.put_object(Bucket="sums", Key=algorithm, Body=body, ChecksumAlgorithm=algorithm)
        assert s3.get_object(Bucket="sums", Key=algorithm)["Body"].read() == body
    # DeleteObjects: current boto3 sends a CRC32 checksum, no Content-MD5.
    deleted = s3.delete_objects(Bucket="sums", Delete={"Objects": [{"Key": "k"}, {"Key": "SHA1"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["SHA1", "k"]


def test_listing_1500_keys_with_prefix_delimiter_and_pages(s3):
    s3.create_bucket(Bucket="many")
    keys = [f"logs/{i % 3}/part-{i:04d}" for i in range(1500)] + ["readme", "logs/x y €"]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket="many", Key=k, Body=b"x"), keys))
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="many"):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys, key=lambda k: k.encode())
    top = s3.list_objects_v2(Bucket="many", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["logs/"]
    assert [o["Key"] for o in top["Contents"]] == ["readme"]
    nested = s3.list_objects_v2(Bucket="many", Prefix="logs/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["logs/0/", "logs/1/", "logs/2/"]
    assert [o["Key"] for o in nested["Contents"]] == ["logs/x y €"]
    v1 = []
    for page in s3.get_paginator("list_objects").paginate(Bucket="many", Prefix="logs/1/", PaginationConfig={"PageSize": 200}):
        v1 += [o["Key"] for o in page.get("Contents", [])]
    assert len(v1) == 500


def test_presigned_get_with_curl_and_expiry(platform, s3key):
    s3 = client(platform, s3key, signature_version="s3v4")  # boto3 presigns with SigV2 unless told
    s3.create_bucket(Bucket="shared")
    s3.put_object(Bucket="shared", Key="report.txt", Body=b"quarterly numbers")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "report.txt"}, ExpiresIn=60)
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", url], capture_output=True, text=True, timeout=30)
    assert out.stdout.endswith("\n200") and out.stdout.startswith("quarterly numbers"), out.stdout
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "report.txt"}, ExpiresIn=1)
    time.sleep(2)
    answer = requests.get(expired, timeout=30)
    assert answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text
    assert requests.get(f"{platform.storage.url}/shared/report.txt", timeout=30).status_code == 403, "anonymous: private"


def test_copy_versioning_delete_markers_and_conditional_put(s3):
    s3.create_bucket(Bucket="history")
    s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="history", Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="history", Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    s3.copy_object(Bucket="history", Key="doc-copy", CopySource={"Bucket": "history", "Key": "doc", "VersionId": v1})
    assert s3.get_object(Bucket="history", Key="doc-copy")["Body"].read() == b"one"
    marker = s3.delete_object(Bucket="history", Key="doc")
    assert marker["DeleteMarker"] is True
    with pytest.raises(ClientError) as hidden:
        s3.get_object(Bucket="history", Key="doc")
    assert code(hidden) == "NoSuchKey"
    versions = s3.list_object_versions(Bucket="history", Prefix="doc")
    assert [v["VersionId"] for v in versions["Versions"] if v["Key"] == "doc"] == [v2, v1]
    assert versions["DeleteMarkers"][0]["IsLatest"] is True
    assert s3.get_object(Bucket="history", Key="doc", VersionId=v1)["Body"].read() == b"one"
    s3.delete_object(Bucket="history", Key="doc", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket="history", Key="doc")["Body"].read() == b"two"
    with pytest.raises(ClientError) as exists:
        s3.put_object(Bucket="history", Key="doc", Body=b"three", IfNoneMatch="*")
    assert status(exists) == 412
    s3.put_object(Bucket="history", Key="fresh", Body=b"new", IfNoneMatch="*")


def test_wrong_secret_unknown_key_and_other_tenants(platform, s3key, s3):
    s3.create_bucket(Bucket="private-team")
    s3.put_object(Bucket="private-team", Key="k", Body=b"secret stuff")
    wrong = dict(s3key, s3=dict(s3key["s3"], secretAccessKey="x" * 40))
    with pytest.raises(ClientError) as mismatch:
        client(platform, wrong).list_buckets()
    assert code(mismatch) == "SignatureDoesNotMatch" and status(mismatch) == 403
    unknown = dict(s3key, s3=dict(s3key["s3"], accessKeyId="NKIAAAAAAAAAAAAAAAAA"))
    with pytest.raises(ClientError) as nobody:
        client(platform, unknown).list_buckets()
    assert code(nobody) == "InvalidAccessKeyId" and status(nobody) == 403


def test_revoked_key_fails_on_its_next_request(platform):
    key = create_s3_key(platform, platform.admin_key, "short-lived")
    c = client(platform, key)
    c.list_buckets()
    revoked = requests.post(f"{platform.gateway.url}/v1/api-keys/{key['key']['id']}:revoke",
                            headers={"Authorization": f"Bearer {platform.admin_key}"}, json={}, timeout=30)
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(ClientError) as refused:
        c.list_buckets()
    assert status(refused) == 403


def test_through_the_gateway_a_100_mib_multipart_upload_and_download_match(platform, s3key):
    from boto3.s3.transfer import TransferConfig
    s3 = client(platform, s3key, endpoint=platform.gateway.url)
    s3.create_bucket(Bucket="via-gateway")
    data = os.urandom(100 << 20)
    import io
    config = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4)
    s3.upload_fileobj(io.BytesIO(data), "via-gateway", "big.bin", Config=config, ExtraArgs={"ChecksumAlgorithm": "CRC32"})
    head = s3.head_object(Bucket="via-gateway", Key="big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-13"')
    out = io.BytesIO()
    s3.download_fileobj("via-gateway", "big.bin", out, Config=config)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()
    part = s3.get_object(Bucket="via-gateway", Key="big.bin", PartNumber=13)
    assert part["Body"].read() == data[12 * (8 << 20):] and part["PartsCount"] == 13
