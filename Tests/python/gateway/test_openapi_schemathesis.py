"""schemathesis (from PyPI) against /v1/openapi.json with a valid key: no 5xx and no response
that breaks the schema."""
import os
import subprocess
import sys
from pathlib import Path

import requests

from conftest import bearer


def test_openapi_document_is_valid(gateway):
    from openapi_spec_validator import validate
    validate(requests.get(f"{gateway.url}/v1/openapi.json").json())


def test_schemathesis_finds_no_server_errors_or_schema_breaks(gateway, platform, tmp_path):
    # A key of its own, so the run cannot revoke the one other tests use.
    key = requests.post(f"{gateway.url}/v1/api-keys", json={"name": "schemathesis"},
                        headers=bearer(platform.admin_key)).json()["secret"]
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(schemathesis), "run", f"{gateway.url}/v1/openapi.json",
         "--url", gateway.url,
         "-H", f"Authorization: Bearer {key}",
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
         "--max-examples", os.environ.get("NIMBUS_SCHEMATHESIS_EXAMPLES", "25"),
         "--exclude-path-regex", "auth/login|:revoke|:rotate|:deactivate",
         "--seed", "1", "--no-color"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
