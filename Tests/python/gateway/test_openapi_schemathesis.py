"""schemathesis (from PyPI) against /v1/openapi.json with a valid key: no 5xx and no response
that breaks the schema."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import requests

from conftest import bearer


def test_openapi_document_is_valid(gateway):
    from openapi_spec_validator import validate
    validate(requests.get(f"{gateway.url}/v1/openapi.json").json())


def test_schemathesis_finds_no_server_errors_or_schema_breaks(gateway, platform, tmp_path):
    # A user and key of its own: the stateful phase may well delete or change the user whose
    # id it learns from whoami, and that must not be the admin other tests use.
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    created = requests.post(f"{gateway.url}/v1/users", headers=bearer(platform.admin_key),
                            json={"email": email, "name": "Fuzz", "password": "fuzzing password 1", "role": "admin"})
    assert created.status_code == 200, created.text
    login = requests.post(f"{gateway.url}/v1/auth/login", json={"email": email, "password": "fuzzing password 1"})
    assert login.status_code == 200, login.text
    key = login.json()["secret"]
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
