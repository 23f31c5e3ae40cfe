"""S3 credentials on API keys through the gateway's REST face: minted on request, shown once,
never listed, gone with a revocation (the signing-key side is covered by the Swift identity
tests and, once the S3 face runs here, by the storage suite)."""
import re

import requests

import suite_support
from conftest import bearer


def create(gateway, key, **body):
    return requests.post(f"{gateway.url}/v1/api-keys", json={"name": "s3-client", **body}, headers=bearer(key))


def test_s3_credentials_are_shown_once(gateway, platform):
    response = create(gateway, platform.admin_key, s3=True)
    assert response.status_code == 200, response.text
    body = response.json()
    s3 = body["s3"]
    suite_support.secret(s3["secretAccessKey"], body["secret"])  # must appear in no service log
    assert re.fullmatch(r"NKIA[A-Z2-7]{16}", s3["accessKeyId"])
    assert len(s3["secretAccessKey"]) == 40
    # Never again: not in Get, not in List.
    shown = requests.get(f"{gateway.url}/v1/api-keys/{body['key']['id']}", headers=bearer(platform.admin_key))
    assert shown.status_code == 200 and s3["secretAccessKey"] not in shown.text
    assert shown.json()["s3AccessKeyId"] == s3["accessKeyId"] == body["key"]["s3AccessKeyId"]
    listed = requests.get(f"{gateway.url}/v1/api-keys", headers=bearer(platform.admin_key))
    assert listed.status_code == 200 and s3["secretAccessKey"] not in listed.text
    assert {k["id"]: k.get("s3AccessKeyId") for k in listed.json()["keys"]}[body["key"]["id"]] == s3["accessKeyId"]
    # Each key gets its own pair.
    other = create(gateway, platform.admin_key, s3=True).json()["s3"]
    suite_support.secret(other["secretAccessKey"])
    assert other["accessKeyId"] != s3["accessKeyId"] and other["secretAccessKey"] != s3["secretAccessKey"]


def test_without_s3_no_credentials_are_minted(gateway, platform):
    response = create(gateway, platform.admin_key)
    assert response.status_code == 200, response.text
    suite_support.secret(response.json()["secret"])
    assert "s3" not in response.json() and not response.json()["key"].get("s3AccessKeyId")
