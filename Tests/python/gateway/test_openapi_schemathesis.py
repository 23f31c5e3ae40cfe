"""schemathesis (from PyPI) against /v1/openapi.json with a valid key: no 5xx and no response
that breaks the schema."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import requests

import suite_support
from conftest import bearer


def test_openapi_document_is_valid(gateway):
    from openapi_spec_validator import validate
    validate(requests.get(f"{gateway.url}/v1/openapi.json").json())


def test_schemathesis_finds_no_server_errors_or_schema_breaks(gateway, platform, tmp_path):
    # A user, tenant and key of its own: the stateful phase deletes and changes what it finds
    # (the user behind whoami, the tenant it belongs to), and that must never be what other
    # tests use, whatever order they run in. The fuzz user is an admin of its own tenant only.
    email, password = f"fuzz-{uuid.uuid4().hex[:8]}@example.com", suite_support.secret("fuzzing password 1")
    created = requests.post(f"{gateway.url}/v1/users", headers=bearer(platform.admin_key),
                            json={"email": email, "name": "Fuzz", "password": password, "role": "viewer"})
    assert created.status_code == 200, created.text
    first = requests.post(f"{gateway.url}/v1/auth/login", json={"email": email, "password": password})
    assert first.status_code == 200, first.text
    slug = f"fuzz-{uuid.uuid4().hex[:8]}"
    tenant = requests.post(f"{gateway.url}/v1/tenants", json={"name": "Fuzz", "slug": slug}, headers=bearer(first.json()["secret"]))
    assert tenant.status_code == 200, tenant.text
    tenant_id = tenant.json()["id"]
    home = requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(platform.admin_key)).json()["principal"]["tenantId"]
    removed = requests.delete(f"{gateway.url}/v1/tenants/{home}/members/{created.json()['id']}", headers=bearer(platform.admin_key))
    assert removed.status_code == 200, removed.text
    login = requests.post(f"{gateway.url}/v1/auth/login", json={"email": email, "password": password, "tenantId": tenant_id})
    assert login.status_code == 200, login.text
    key = login.json()["secret"]
    who = requests.get(f"{gateway.url}/v1/auth/whoami", headers=bearer(key)).json()["principal"]
    assert who["tenantId"] == tenant_id and who["role"] == "admin", who
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(schemathesis), "run", f"{gateway.url}/v1/openapi.json",
         "--url", gateway.url,
         "-H", f"Authorization: Bearer {key}",
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
         "--max-examples", os.environ.get("NIMBUS_SCHEMATHESIS_EXAMPLES", "10"),
         "--exclude-path-regex", "auth/login|:revoke|:rotate|:deactivate",
         "--seed", "1", "--no-color"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
