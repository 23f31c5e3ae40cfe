"""Fixtures for the compute end-to-end suite: a throwaway PostgreSQL, the podman API service
of scripts/podman.sh in a temporary directory (with the local busybox image), the real
nimbus-identity (quotas, tenants) and nimbus-compute binaries, and grpcio stubs generated
from Protos/. Calls to compute carry a principal signed with the shared key, as the gateway
would forward it."""
import hashlib
import hmac
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
PRINCIPAL_KEY = "python-compute-principal-key-0123456789abcdef"
# NIMBUS_COMPUTE_KEK: base64url of 32 bytes (seals instance environments at rest).
COMPUTE_KEK = "cHl0aG9uLWNvbXB1dGUta2V5LWVuY3J5cHRpb24ta2s"
suite_support.secret(PRINCIPAL_KEY, COMPUTE_KEK)
DEVELOPER = ["instance:read", "instance:launch", "instance:manage", "vpc:read", "vpc:manage"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign_principal(user_id, tenant_id, role="developer", permissions=DEVELOPER, key_id="", lifetime_ms=60_000, key=PRINCIPAL_KEY):
    """The x-nimbus-principal-bin token (NimbusPlatform PrincipalSigner, format 1)."""
    def put(text):
        raw = text.encode()
        return len(raw).to_bytes(2, "big") + raw
    encoded = b"\x01" + put(user_id) + put(tenant_id) + put(role) + put(key_id)
    perms = sorted(permissions)
    encoded += len(perms).to_bytes(2, "big") + b"".join(put(p) for p in perms)
    expires = int(time.time() * 1000) + lifetime_ms
    token = b"\x01" + expires.to_bytes(8, "big") + len(encoded).to_bytes(2, "big") + encoded
    mac = hmac.new(key.encode(), b"nimbus-principal-v1\x00" + token, hashlib.sha256).digest()
    return token + mac


def wait_listening(address, process, name):
    host, port = address.split(":")
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            return
        except OSError:
            assert process.poll() is None, f"{name} exited with {process.returncode}"
            time.sleep(0.1)
    raise AssertionError(f"{name} did not start listening")


@pytest.fixture(scope="session")
def postgres():
    directory = Path(tempfile.mkdtemp(prefix="nimbus-compute-pg-"))
    script = ROOT / "scripts" / "test-postgres.sh"
    out = subprocess.run([str(script), "start", str(directory), "--watch-pid", str(os.getpid())],
                         check=True, capture_output=True, text=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        yield values["TCP_DSN"]
    finally:
        subprocess.run([str(script), "stop", str(directory)], capture_output=True)


class Podman:
    def __init__(self, directory):
        self.directory = directory
        self.env = {**os.environ, "NIMBUS_PODMAN_DIR": str(directory)}
        self.socket = str(directory / "podman.sock")

    def script(self, *args, check=True):
        return subprocess.run([str(ROOT / "scripts" / "podman.sh"), *args], env=self.env,
                              capture_output=True, text=True, check=check)

    def cli(self, *args, check=True):
        return self.script("podman", *args, check=check)


@pytest.fixture(scope="session")
def podman():
    podman = Podman(Path(tempfile.mkdtemp(prefix="nimbus-compute-podman-")))
    podman.script("start", "--watch-pid", str(os.getpid()))
    subprocess.run([str(ROOT / "scripts" / "build-images.sh")], env=podman.env, check=True, capture_output=True)
    try:
        yield podman
    finally:
        podman.script("destroy", check=False)


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    import grpc_tools
    out = tmp_path_factory.mktemp("compute-stubs")
    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = [str(p.relative_to(ROOT / "Protos")) for p in (ROOT / "Protos").rglob("*.proto")
              if p.parts[-3:-1] in (("compute", "v1"), ("identity", "v1")) or "google/api" in str(p)]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'Protos'}", f"-I{include}",
                    f"--python_out={out}", f"--grpc_python_out={out}", *protos], check=True)
    sys.path.insert(0, str(out))
    from nimbus.compute.v1 import compute_pb2, compute_pb2_grpc
    from nimbus.identity.v1 import identity_pb2, identity_pb2_grpc
    return compute_pb2, compute_pb2_grpc, identity_pb2, identity_pb2_grpc


def start_binary(name, args, env, log_dir):
    address = f"127.0.0.1:{free_port()}"
    log = open(log_dir / f"{name}.log", "w")
    process = subprocess.Popen([str(BIN / name), "serve", "--listen", address, *args], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    wait_listening(address, process, name)
    return address, process, log


def stop_binary(process, log):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


class Platform:
    """The running services and what the tests need to call them."""

    def __init__(self, stubs, identity_address, compute_address, admin_key, podman):
        import grpc
        self.pb, self.rpc, self.ipb, self.irpc = stubs
        self.podman = podman
        self.admin_key = admin_key
        self.compute_channel = grpc.insecure_channel(compute_address)
        self.identity_channel = grpc.insecure_channel(identity_address)
        self.instances = self.rpc.InstancesStub(self.compute_channel)
        self.vpcs = self.rpc.VpcsStub(self.compute_channel)
        self.images = self.rpc.ImagesStub(self.compute_channel)
        self.types = self.rpc.InstanceTypesStub(self.compute_channel)
        self.tenants = self.irpc.TenantsStub(self.identity_channel)
        self.quotas = self.irpc.QuotasStub(self.identity_channel)
        who = self.irpc.AuthStub(self.identity_channel).WhoAmI(self.ipb.WhoAmIRequest(), metadata=self.admin(), timeout=30)
        self.admin_user_id = who.principal.user_id
        self.tenant_id = who.principal.tenant_id
        self.home_tenant_id = self.tenant_id  # the admin's own (audit events are read there)

    def admin(self):
        return [("authorization", f"Bearer {self.admin_key}")]

    def as_tenant(self, tenant_id=None, permissions=DEVELOPER):
        token = sign_principal(self.admin_user_id, tenant_id or self.tenant_id, permissions=permissions)
        return [("x-nimbus-principal-bin", token)]

    def new_tenant(self, slug_prefix):
        slug = f"{slug_prefix}-{os.urandom(3).hex()}"
        tenant = self.tenants.CreateTenant(self.ipb.CreateTenantRequest(name=slug, slug=slug), metadata=self.admin(), timeout=30)
        return tenant.id

    def quota(self, tenant_id):
        return self.quotas.GetQuota(self.ipb.GetQuotaRequest(tenant_id=tenant_id), metadata=self.admin(), timeout=30)

    def wait_state(self, instance_id, states, metadata=None, timeout=30):
        deadline = time.time() + timeout
        while True:
            instance = self.instances.GetInstance(self.pb.GetInstanceRequest(id=instance_id), metadata=metadata or self.as_tenant(), timeout=30)
            if instance.state in states or time.time() > deadline:
                return instance
            time.sleep(0.2)


@pytest.fixture(scope="session")
def platform(postgres, podman, stubs, tmp_path_factory):
    logs = suite_support.logs(tmp_path_factory.mktemp("compute-logs"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
    base.update({"NIMBUS_PRINCIPAL_KEY": PRINCIPAL_KEY, "NIMBUS_LOG_FORMAT": "text"})
    # Each service on its own schema and login role (db-bootstrap), as `make up` runs them;
    # `postgres` (the superuser) stays for the tests' own inspection (psql, pg_dump).
    identity_env = {**base, "NIMBUS_IDENTITY_DATABASE_URL": suite_support.service_dsn(postgres, "nimbus-identity", "identity")}
    boot = subprocess.run([str(BIN / "nimbus-identity"), "bootstrap", "--email", "admin@example.com",
                           "--password", suite_support.secret("bootstrap-password-1"), "--tenant", "acme"],
                          capture_output=True, text=True, env=identity_env, timeout=120)
    assert boot.returncode == 0, boot.stderr
    admin_key = re.search(r"nmb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", boot.stdout).group(0)
    identity_address, identity, identity_log = start_binary("nimbus-identity", [], identity_env, logs)
    compute_env = {**base, "NIMBUS_COMPUTE_DATABASE_URL": suite_support.service_dsn(postgres, "nimbus-compute", "compute"),
                   "NIMBUS_IDENTITY_ENDPOINTS": identity_address,
                   "NIMBUS_DOCKER_SOCKET": podman.socket, "NIMBUS_COMPUTE_KEK": COMPUTE_KEK,
                   # A table of this run's own: concurrent runs on the host do not repair each other's.
                   "NIMBUS_COMPUTE_FIREWALL_TABLE": f"nimbus_test_{os.getpid()}"}
    compute_address, compute, compute_log = start_binary("nimbus-compute", [], compute_env, logs)
    try:
        platform = Platform(stubs, identity_address, compute_address, admin_key, podman)
        platform.postgres, platform.compute_env, platform.identity_env = postgres, compute_env, identity_env
        platform.compute_address, platform.identity_address = compute_address, identity_address
        platform.compute_log = logs / "nimbus-compute.log"
        # The shared tenant's quota is out of every test's way (instances of earlier tests may
        # still be terminating); tests about quotas use tenants of their own (new_tenant).
        platform.quotas.SetQuota(platform.ipb.SetQuotaRequest(tenant_id=platform.tenant_id, limits=platform.ipb.QuotaResources(
            instances=1000, vcpus=1000, memory_mb=1_000_000, storage_gb=1000, buckets=1000, databases=1000)),
            metadata=platform.admin(), timeout=30)
        yield platform
    finally:
        stop_binary(compute, compute_log)
        subprocess.run(["nft", "delete", "table", "inet", compute_env["NIMBUS_COMPUTE_FIREWALL_TABLE"]], capture_output=True)
        stop_binary(identity, identity_log)
        print((logs / "nimbus-compute.log").read_text()[-4000:])

