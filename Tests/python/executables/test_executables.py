"""Every Nimbus executable starts, answers --help and --version, and refuses invalid
configuration with one clear line that never shows the password."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("NIMBUS_BIN", ROOT / ".build" / "debug"))
SERVICES = ["nimbus-identity", "nimbus-compute", "nimbus-storage", "nimbus-database", "nimbus-gateway"]
EX_CONFIG = 78  # sysexits.h: what a supervisor sees for a configuration error (no restart loop)


def run(name, *args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_") and k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, env=full_env, timeout=60)


@pytest.mark.parametrize("name", SERVICES + ["nimbus"])
def test_help_and_version(name):
    help_ = run(name, "--help")
    assert help_.returncode == 0, help_.stderr
    assert "USAGE:" in help_.stdout
    version = run(name, "--version")
    assert version.returncode == 0
    assert version.stdout.strip() == "0.1.0"


@pytest.mark.parametrize("name", [s for s in SERVICES if s != "nimbus-gateway"])
@pytest.mark.parametrize("dsn", [
    "postgres://nimbus:hunter2@localhost:notaport/nimbus",
    "host=localhost password=hunter2 port=99999",
])
def test_malformed_database_url_is_one_redacted_line(name, dsn):
    result = run(name, env={"DATABASE_URL": dsn})
    assert result.returncode == EX_CONFIG, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "invalid configuration" in lines[0] and "DATABASE_URL" in lines[0]
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize("name", SERVICES)
def test_invalid_listen_address_is_refused(name):
    result = run(name, "--listen", "not-an-address")
    assert result.returncode == EX_CONFIG, result.stderr
    assert "listen" in result.stderr
