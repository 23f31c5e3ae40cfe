"""Fixtures for the identity interop suite: a throwaway PostgreSQL (scripts/test-postgres.sh),
the real nimbus-identity binary (bootstrap, then serve), and Python stubs generated
from Protos/ with grpcio-tools."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import suite_support

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("NIMBUS_BIN", ROOT / ".build" / "debug"))
PRINCIPAL_KEY = suite_support.secret("python-suite-principal-key-0123456789abcdef")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A PostgreSQL server of our own (scripts/test-postgres.sh); yields its TCP URL."""
    if os.environ.get("NIMBUS_TEST_DATABASE_URL"):
        yield os.environ["NIMBUS_TEST_DATABASE_URL"]
        return
    directory = Path(tempfile.mkdtemp(prefix="nimbus-identity-pg-"))
    script = ROOT / "scripts" / "test-postgres.sh"
    out = subprocess.run([str(script), "start", str(directory), "--watch-pid", str(os.getpid())],
                         check=True, capture_output=True, text=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        yield values["TCP_DSN"]
    finally:
        subprocess.run([str(script), "stop", str(directory)], capture_output=True)


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    """Python modules generated from Protos/ (as any grpcio user would)."""
    import grpc_tools
    out = tmp_path_factory.mktemp("stubs")
    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = [str(p.relative_to(ROOT / "Protos")) for p in (ROOT / "Protos").rglob("*.proto")
              if p.parts[-4:-1] == ("nimbus", "identity", "v1") or "google/api" in str(p)]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'Protos'}", f"-I{include}",
                    f"--python_out={out}", f"--grpc_python_out={out}", *protos], check=True)
    sys.path.insert(0, str(out))
    from nimbus.identity.v1 import identity_pb2, identity_pb2_grpc
    return identity_pb2, identity_pb2_grpc


class IdentityServer:
    def __init__(self, address, admin_key, admin_email, process):
        self.address, self.admin_key, self.admin_email, self.process = address, admin_key, admin_email, process
        self.principal_key = PRINCIPAL_KEY


@pytest.fixture(scope="session")
def identity_dsn(postgres):
    """Identity's own schema and login role (db-bootstrap), as `make up` runs it; `postgres`
    (the superuser) stays for the tests' own inspection (pg_dump, psql)."""
    return suite_support.service_dsn(postgres, "nimbus-identity", "identity")


def identity_env(dsn):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    env.update({"NIMBUS_IDENTITY_DATABASE_URL": dsn, "NIMBUS_PRINCIPAL_KEY": PRINCIPAL_KEY,
                "NIMBUS_LOG_FORMAT": "text"})
    return env


def serve_identity(env, log_path):
    """Starts `nimbus-identity serve` on a free port; returns (address, process, log file)."""
    address = f"127.0.0.1:{free_port()}"
    log = open(log_path, "w")
    process = subprocess.Popen([str(BIN / "nimbus-identity"), "serve", "--listen", address],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    host, port = address.split(":")
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            break
        except OSError:
            assert process.poll() is None, f"nimbus-identity exited with {process.returncode}"
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("nimbus-identity did not start listening")
    return address, process, log


def stop_identity(process, log):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def identity(identity_dsn, tmp_path_factory):
    """Bootstraps the first admin with the real binary, then serves on a free port."""
    env = identity_env(identity_dsn)
    boot = subprocess.run([str(BIN / "nimbus-identity"), "bootstrap", "--email", "admin@example.com",
                           "--password", suite_support.secret("bootstrap-password-1"), "--tenant", "acme"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert boot.returncode == 0, boot.stderr
    match = re.search(r"nmb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", boot.stdout)
    assert match, boot.stdout
    address, process, log = serve_identity(env, suite_support.logs(tmp_path_factory.mktemp("identity")) / "identity.log")
    yield IdentityServer(address, match.group(0), "admin@example.com", process)
    stop_identity(process, log)


@pytest.fixture(scope="session")
def identity_replica(identity, identity_dsn, tmp_path_factory):
    """A second nimbus-identity process on the same database (as behind the gateway)."""
    address, process, log = serve_identity(identity_env(identity_dsn), suite_support.logs(tmp_path_factory.mktemp("replica")) / "identity.log")
    yield IdentityServer(address, identity.admin_key, identity.admin_email, process)
    stop_identity(process, log)
