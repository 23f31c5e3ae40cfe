"""Fixtures for the gateway suite: a throwaway PostgreSQL, the real nimbus-identity (two
replicas on one database) and nimbus-compute when it is built, and nimbus-gateway in front of
them, all started from the built binaries (NIMBUS_BIN)."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

import suite_support

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("NIMBUS_BIN", ROOT / ".build" / "debug"))
PRINCIPAL_KEY = "gateway-suite-principal-key-0123456789abcdef"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "bootstrap-password-1"
COMPUTE_KEK = "Z2F0ZXdheS1zdWl0ZS1jb21wdXRlLWtlay0wMTIzNDU"
# NIMBUS_IDENTITY_KEK: seals S3 secret access keys at rest (base64url of 32 bytes).
IDENTITY_KEK = "Z2F0ZXdheS1zdWl0ZS1pZGVudGl0eS1rZWstMDEyMzQ"
suite_support.secret(PRINCIPAL_KEY, ADMIN_PASSWORD, COMPUTE_KEK, IDENTITY_KEK)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    env.update({"NIMBUS_PRINCIPAL_KEY": PRINCIPAL_KEY, "NIMBUS_LOG_FORMAT": "json",
                "NIMBUS_SCRYPT_TEST_PARAMETERS": "1"})
    env.update(extra)
    return env


class Process:
    """A binary serving on a free port, with its log kept for failures."""

    def __init__(self, name, args, env, log_dir, port=None):
        self.name = name
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen([str(BIN / args[0]), *args[1:], "--listen", self.address],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.process.poll() is None, f"{name} exited: {self.log_path.read_text()[-4000:]}"
            try:
                if requests.get(f"http://{self.address}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} did not become ready: {self.log_path.read_text()[-4000:]}")

    @property
    def url(self):
        return f"http://{self.address}"

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory):
    return suite_support.logs(tmp_path_factory.mktemp("gateway-logs"))


@pytest.fixture(scope="session")
def postgres():
    if os.environ.get("NIMBUS_TEST_DATABASE_URL"):
        yield os.environ["NIMBUS_TEST_DATABASE_URL"]
        return
    directory = Path(tempfile.mkdtemp(prefix="nimbus-gateway-pg-"))
    script = ROOT / "scripts" / "test-postgres.sh"
    out = subprocess.run([str(script), "start", str(directory), "--watch-pid", str(os.getpid())],
                         check=True, capture_output=True, text=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        yield values["TCP_DSN"]
    finally:
        subprocess.run([str(script), "stop", str(directory)], capture_output=True)


@pytest.fixture(scope="session")
def identity_dsn(postgres):
    """Identity's own schema and login role (db-bootstrap), as `make up` runs it."""
    return suite_support.service_dsn(postgres, "nimbus-identity", "identity")


@pytest.fixture(scope="session")
def compute_dsn(postgres):
    return suite_support.service_dsn(postgres, "nimbus-compute", "compute")


@pytest.fixture(scope="session")
def podman(tmp_path_factory):
    """A project-local podman API service (scripts/podman.sh) with the local busybox image;
    yields its socket path. `make test` provides podman: failing to start fails the suite."""
    directory = Path(tempfile.mkdtemp(prefix="nimbus-gateway-podman-"))
    env = {**os.environ, "NIMBUS_PODMAN_DIR": str(directory)}
    script = ROOT / "scripts" / "podman.sh"
    start = subprocess.run([str(script), "start", "--watch-pid", str(os.getpid())], env=env,
                           capture_output=True, text=True, timeout=120)
    try:
        assert start.returncode == 0, f"podman did not start: {start.stdout}{start.stderr}"
        images = subprocess.run([str(ROOT / "scripts" / "build-images.sh")], env=env, capture_output=True, text=True, timeout=300)
        assert images.returncode == 0, images.stderr
        socket_line = subprocess.run([str(script), "env"], env=env, capture_output=True, text=True).stdout
        yield dict(line.split("=", 1) for line in socket_line.splitlines() if "=" in line)["NIMBUS_DOCKER_SOCKET"]
    finally:
        subprocess.run([str(script), "destroy"], env=env, capture_output=True, timeout=120)


class Platform:
    def __init__(self):
        self.identity = []
        self.compute = []
        self.gateways = {}
        self.admin_key = None
        self.identity_env = None


@pytest.fixture(scope="session")
def platform(identity_dsn, compute_dsn, log_dir, podman):
    """Identity (two replicas), compute and a gateway with generous limits. Every piece must
    start: a suite that silently ran without one would pass for what it never checked. Each
    service uses its own database login role, never the superuser."""
    env = base_env(NIMBUS_IDENTITY_DATABASE_URL=identity_dsn, NIMBUS_IDENTITY_KEK=IDENTITY_KEK)
    boot = subprocess.run([str(BIN / "nimbus-identity"), "bootstrap", "--email", ADMIN_EMAIL,
                           "--password", ADMIN_PASSWORD, "--tenant", "acme"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert boot.returncode == 0, boot.stderr
    match = re.search(r"nmb_[a-z0-9]+_[A-Za-z0-9_-]+", boot.stdout)
    assert match, boot.stdout
    platform = Platform()
    platform.admin_key = match.group(0)
    platform.identity_env = env
    started = []
    try:
        for _ in range(2):
            replica = Process("nimbus-identity", ["nimbus-identity", "serve"], env, log_dir)
            started.append(replica)
            platform.identity.append(replica)
        compute_env = base_env(NIMBUS_COMPUTE_DATABASE_URL=compute_dsn, NIMBUS_DOCKER_SOCKET=podman,
                               NIMBUS_COMPUTE_KEK=COMPUTE_KEK,
                               # VPC isolation table of this run's own (concurrent runs on the host).
                               NIMBUS_COMPUTE_FIREWALL_TABLE=f"nimbus_gw_{os.getpid()}",
                               NIMBUS_IDENTITY_ENDPOINTS=",".join(r.address for r in platform.identity))
        replica = Process("nimbus-compute", ["nimbus-compute", "serve"], compute_env, log_dir)
        started.append(replica)
        platform.compute.append(replica)
        yield platform
    finally:
        for gateway in platform.gateways.values():
            gateway.stop()
        # A test may have replaced a replica it killed: stop whatever runs now, too.
        for process in {id(p): p for p in started + platform.identity + platform.compute}.values():
            process.stop()


def start_gateway(platform, log_dir, **settings):
    env = base_env(NIMBUS_IDENTITY_ENDPOINTS=",".join(r.address for r in platform.identity),
                   NIMBUS_COMPUTE_ENDPOINTS=",".join(r.address for r in platform.compute),
                   **settings)
    return Process("nimbus-gateway", ["nimbus-gateway", "serve"], env, log_dir)


@pytest.fixture(scope="session")
def gateway(platform, log_dir):
    """The gateway most tests use: rate limits out of the way."""
    if "main" not in platform.gateways:
        platform.gateways["main"] = start_gateway(platform, log_dir, NIMBUS_GATEWAY_KEY_RATE="0",
                                                  NIMBUS_GATEWAY_IP_RATE="0")
    return platform.gateways["main"]


@pytest.fixture(scope="session")
def limited_gateway(platform, log_dir):
    """A gateway allowing each key a burst of 3 and one request per 10 s afterwards."""
    if "limited" not in platform.gateways:
        platform.gateways["limited"] = start_gateway(platform, log_dir, NIMBUS_GATEWAY_KEY_RATE="0.1",
                                                     NIMBUS_GATEWAY_KEY_BURST="3", NIMBUS_GATEWAY_IP_RATE="0")
    return platform.gateways["limited"]


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    """Python modules generated from Protos/ with grpcio-tools, as any grpcio user would."""
    import grpc_tools
    out = tmp_path_factory.mktemp("stubs")
    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = [str(p.relative_to(ROOT / "Protos")) for p in (ROOT / "Protos").rglob("*.proto")
              if "nimbus/identity" in str(p) or "nimbus/compute" in str(p) or "google/api" in str(p)]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'Protos'}", f"-I{include}",
                    f"--python_out={out}", f"--grpc_python_out={out}", *protos], check=True)
    sys.path.insert(0, str(out))
    import importlib
    modules = {"identity": (importlib.import_module("nimbus.identity.v1.identity_pb2"),
                            importlib.import_module("nimbus.identity.v1.identity_pb2_grpc"))}
    compute_dir = ROOT / "Protos" / "nimbus" / "compute" / "v1"
    if compute_dir.exists():
        for proto in compute_dir.glob("*.proto"):
            name = proto.stem
            modules[f"compute.{name}"] = (importlib.import_module(f"nimbus.compute.v1.{name}_pb2"),
                                          importlib.import_module(f"nimbus.compute.v1.{name}_pb2_grpc"))
    return modules


def bearer(key):
    return {"Authorization": f"Bearer {key}"}
